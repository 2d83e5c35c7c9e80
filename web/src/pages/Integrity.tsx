// The log's integrity as this browser sees it: the latest checkpoint (origin, size, root, age),
// the verifier key and whether it is pinned, and checking it all again here on demand.
import { useState } from "preact/hooks";
import { getJson } from "../api.js";
import type { EntryList } from "../paged.js";
import { pinKey, pinnedKey, unpinKey } from "../trust/pin.js";
import { proofs } from "../trust/proofs.js";
import { establishTrust, type Trust } from "../trust/state.js";

/** Entries "verify in this browser" proves included, besides the checkpoint. */
const LATEST = 200;

interface Report {
  checked: number;
  failed: { index: number; reason: string }[];
  ms: number;
}

function age(iso: string | undefined): string {
  if (iso === undefined) return "unknown";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function Integrity({ trust }: { trust: Trust }) {
  const [keyText, setKeyText] = useState(pinnedKey() ?? "");
  const [checking, setChecking] = useState(false);
  const [report, setReport] = useState<Report | string | undefined>();
  const cp = trust.checkpoint;
  // The checkpoint (signature, key, growth since last time), then the newest entries' proofs.
  const verifyNow = async (): Promise<void> => {
    setChecking(true);
    setReport(undefined);
    try {
      const t = await establishTrust();
      if (t.checkpoint === undefined) return;
      const started = performance.now();
      const page = await getJson<EntryList>("/v1/entries", { "tree-size": t.checkpoint.size, limit: LATEST });
      await proofs.check(t, page.items);
      const indexes = page.items.map((i) => i.index);
      setReport({
        checked: indexes.length,
        failed: proofs.failed(t, indexes),
        ms: performance.now() - started,
      });
    } catch (err) {
      setReport((err as Error).message);
    } finally {
      setChecking(false);
    }
  };
  const rate =
    proofs.stats.workerMs > 0 ? Math.round((proofs.stats.checked * 1000) / proofs.stats.workerMs) : undefined;
  return (
    <div class="integrity">
      <h1>Integrity</h1>
      <section aria-labelledby="cp-title">
        <h2 id="cp-title">Latest checkpoint</h2>
        <p
          data-testid="trust-state"
          class={trust.state === "verified" ? "ok" : trust.state === "failed" ? "error" : "muted"}
        >
          {trust.state === "verified"
            ? trust.pinned
              ? "Verified in this browser against your pinned key."
              : "Verified in this browser against the key the server offers — pin a key you got from your records to make this meaningful."
            : trust.state === "failed"
              ? `Refused: ${trust.error ?? ""}`
              : "Checking…"}
        </p>
        {cp && (
          <dl class="facts mono">
            <dt>Origin</dt>
            <dd>{cp.origin}</dd>
            <dt>Size</dt>
            <dd data-testid="cp-size">{cp.size.toLocaleString()} entries</dd>
            <dt>Root hash</dt>
            <dd>{hex(cp.rootHash)}</dd>
            <dt>Written</dt>
            <dd>
              {trust.info?.checkpointWrittenAt ?? "?"} ({age(trust.info?.checkpointWrittenAt)}, by the
              server's clock)
            </dd>
            {trust.extends && (
              <>
                <dt>Extends</dt>
                <dd>
                  the checkpoint of size {trust.extends.size.toLocaleString()} this browser verified on{" "}
                  {trust.extends.at}
                  {trust.extends.size < cp.size ? " (consistency proof checked)" : ""}
                </dd>
              </>
            )}
          </dl>
        )}
        <button type="button" onClick={() => void verifyNow()} disabled={checking} data-testid="verify-now">
          {checking ? "Verifying…" : "Verify in this browser"}
        </button>
        {typeof report === "string" && (
          <p class="error" role="alert">
            {report}
          </p>
        )}
        {typeof report === "object" && (
          <p
            data-testid="verify-report"
            class={report.failed.length === 0 && trust.state === "verified" ? "ok" : "error"}
          >
            {trust.state !== "verified"
              ? `The newest ${report.checked} entries could not be verified: the checkpoint is refused.`
              : report.failed.length === 0
                ? `The newest ${report.checked} requests are in the log: every inclusion proof verified (${Math.round(report.ms)} ms).`
                : `${report.failed.length} of the newest ${report.checked} entries failed: ${report.failed
                    .slice(0, 5)
                    .map((f) => f.reason)
                    .join("; ")}`}
          </p>
        )}
        {rate !== undefined && (
          <p class="muted small" data-testid="proof-rate">
            {proofs.stats.checked.toLocaleString()} inclusion proofs checked in this browser so far,{" "}
            {rate.toLocaleString()} per second of worker time
            {proofs.stats.failed > 0 ? `, ${proofs.stats.failed} failed` : ""}.
          </p>
        )}
      </section>

      <section aria-labelledby="key-title">
        <h2 id="key-title">Verifier key</h2>
        <p>
          The server offers:{" "}
          <code class="break" data-testid="offered-key">
            {trust.info?.verifierKey ?? "…"}
          </code>
        </p>
        <p class="small">
          Trust starts from a key you got elsewhere: the operator prints it with{" "}
          <code>kubetrail keys --data DIR</code> (it is DATA/keys/verifier.key). Pin it here; this browser
          then checks every checkpoint against it and warns when the server presents another.
        </p>
        <form
          class="pin-form"
          onSubmit={(e) => {
            e.preventDefault();
            pinKey(keyText);
            void verifyNow();
          }}
        >
          <label for="pin-key">Pinned verifier key</label>
          <input
            id="pin-key"
            value={keyText}
            spellcheck={false}
            autocomplete="off"
            placeholder="origin+1234abcd+AQ…"
            onInput={(e) => setKeyText((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Pin key</button>
          {trust.pinned && (
            <button
              type="button"
              onClick={() => {
                unpinKey();
                setKeyText("");
                void verifyNow();
              }}
            >
              Unpin
            </button>
          )}
        </form>
      </section>

      <section aria-labelledby="witness-title">
        <h2 id="witness-title">Witnesses and mirrors</h2>
        <p class="muted small">
          None configured. The checkpoint and hash tiles are public under <code>/log/</code>, so any C2SP tlog
          client can check or mirror this log; <code>kubetrail verify URL --key VKEY</code> does it from the
          command line.
        </p>
      </section>
    </div>
  );
}
