// One entry: everything it recorded, and the evidence that it is in the log — its index, leaf
// hash and inclusion proof, checked here against the verified checkpoint.
import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api.js";
import { JsonView, REDACTED_ANNOTATION } from "../components/JsonView.js";
import { Link } from "../components/Link.js";
import { FailureList, ProofMark } from "../components/ProofMark.js";
import { historyLink, personLink, shortTime, summarize } from "../event.js";
import { proofs, useVerdicts, type ProvenEntry } from "../trust/proofs.js";
import type { Trust } from "../trust/state.js";
import { decodeBase64 } from "../../../src/tlog/base64.js";
import { hashLeaf } from "../../../src/tlog/hash.js";

interface EntryAnswer extends ProvenEntry {
  treeSize: number;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function EventDetail({ index, trust }: { index: number; trust: Trust }) {
  useVerdicts();
  const [entry, setEntry] = useState<EntryAnswer | undefined>();
  const [error, setError] = useState<string | undefined>();
  const size = trust.checkpoint?.size;
  useEffect(() => {
    if (size === undefined) return;
    setEntry(undefined);
    getJson<EntryAnswer>(`/v1/entries/${index}`, { "tree-size": size }).then(
      (e) => {
        setEntry(e);
        void proofs.check(trust, [e]);
      },
      (err: Error) => setError(err.message),
    );
  }, [index, size, trust]);

  if (error !== undefined)
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  if (entry === undefined) return <p class="muted">Loading entry {index}…</p>;
  const s = summarize(entry.index, entry.entry);
  const verdict = proofs.verdict(trust, entry.index);
  const leaf = hashLeaf(new TextEncoder().encode(entry.entry));
  const annotations = (s.value["annotations"] ?? {}) as Record<string, unknown>;
  const redacted =
    typeof annotations[REDACTED_ANNOTATION] === "string" ? String(annotations[REDACTED_ANNOTATION]) : "";

  return (
    <article class="detail">
      <h1>
        {s.kind === "Event" ? (
          <>
            {s.verb} {s.resource} {s.namespace ? `${s.namespace}/` : ""}
            {s.name}
          </>
        ) : (
          s.kind
        )}
      </h1>
      <FailureList failures={proofs.failed(trust, [entry.index])} />
      <dl class="facts">
        <dt>Time</dt>
        <dd>{shortTime(s.time)} UTC</dd>
        {s.user && (
          <>
            <dt>User</dt>
            <dd>
              <Link to={personLink(s.user)}>{s.user}</Link>
            </dd>
          </>
        )}
        {s.code && (
          <>
            <dt>Response</dt>
            <dd>{s.code}</dd>
          </>
        )}
        {s.auditID && (
          <>
            <dt>Audit ID</dt>
            <dd class="mono">{s.auditID}</dd>
          </>
        )}
        {s.object && (
          <>
            <dt>Object</dt>
            <dd>
              <Link to={historyLink(s.object)}>
                History of {s.object.kind}/{s.object.name}
              </Link>
            </dd>
          </>
        )}
        {redacted && (
          <>
            <dt>Redacted</dt>
            <dd>
              <mark class="redacted">redacted</mark> {redacted.split(",").join(", ")}
            </dd>
          </>
        )}
      </dl>

      <section class="evidence" aria-labelledby="evidence-title">
        <h2 id="evidence-title">
          <ProofMark verdict={verdict} index={entry.index} /> In the log
        </h2>
        <p
          data-testid="verdict"
          class={verdict.state === "ok" ? "ok" : verdict.state === "failed" ? "error" : "muted"}
        >
          {verdict.state === "ok"
            ? `Verified in this browser: entry ${entry.index} is leaf ${entry.index} of the tree of size ${entry.treeSize} whose signed checkpoint was verified.`
            : verdict.state === "failed"
              ? verdict.reason
              : "Checking the inclusion proof…"}
        </p>
        <dl class="facts mono">
          <dt>Log index</dt>
          <dd>{entry.index}</dd>
          <dt>Leaf hash</dt>
          <dd data-testid="leaf-hash">{hex(leaf)}</dd>
          <dt>Tree size</dt>
          <dd>{entry.treeSize}</dd>
          <dt>Inclusion proof</dt>
          <dd>
            <ol class="proof" data-testid="proof">
              {entry.proof.map((h, i) => {
                const bytes = decodeBase64(h);
                return <li key={i}>{bytes ? hex(bytes) : `not base64: ${h}`}</li>;
              })}
            </ol>
          </dd>
        </dl>
      </section>

      <section aria-labelledby="json-title">
        <h2 id="json-title">The entry as stored</h2>
        <JsonView value={s.value} />
      </section>
    </article>
  );
}
