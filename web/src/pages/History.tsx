// Every change to one object, oldest first: who changed it, how, and the field-level diff
// between consecutive versions as `kubetrail history` computes it (the server's diffBodies).
import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api.js";
import { Link } from "../components/Link.js";
import { FailureList, ProofMark } from "../components/ProofMark.js";
import { personLink, shortTime } from "../event.js";
import { toRows, type Row } from "../paged.js";
import { navigate, type Location } from "../router.js";
import { proofs, useVerdicts, type ProvenEntry } from "../trust/proofs.js";
import type { Trust } from "../trust/state.js";

interface FieldChange {
  path: string;
  op: "add" | "remove" | "change";
  from?: string;
  to?: string;
}

interface HistoryItem extends ProvenEntry {
  body?: "diff" | "patch";
  changes?: FieldChange[];
}

interface HistoryAnswer {
  items: HistoryItem[];
}

function Change({ c }: { c: FieldChange }) {
  if (c.op === "add")
    return (
      <li class="diff-add">
        <span class="sr-only">added </span>+ <code>{c.path}</code>: {c.to}
      </li>
    );
  if (c.op === "remove")
    return (
      <li class="diff-remove">
        <span class="sr-only">removed </span>− <code>{c.path}</code>: {c.from}
      </li>
    );
  return (
    <li class="diff-change">
      <span class="sr-only">changed </span>~ <code>{c.path}</code>: {c.from} → {c.to}
    </li>
  );
}

export function History({ loc, trust }: { loc: Location; trust: Trust }) {
  useVerdicts();
  const object = loc.params.get("object") ?? "";
  const namespace = loc.params.get("namespace") ?? "";
  const [items, setItems] = useState<(HistoryItem & { row: Row })[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const size = trust.checkpoint?.size;
  useEffect(() => {
    if (object === "" || size === undefined) return;
    setItems(undefined);
    setError(undefined);
    getJson<HistoryAnswer>("/v1/history", {
      object,
      namespace: namespace || undefined,
      "tree-size": size,
    }).then(
      (a) => {
        void proofs.check(trust, a.items);
        const rows = toRows(a.items);
        setItems(a.items.map((item, i) => ({ ...item, row: rows[i] as Row })));
      },
      (err: Error) => setError(err.message),
    );
  }, [object, namespace, size, trust]);

  return (
    <div class="history">
      <h1>Object history</h1>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.target as HTMLFormElement);
          const q = new URLSearchParams({ object: String(f.get("object") ?? "") });
          const ns = String(f.get("namespace") ?? "");
          if (ns) q.set("namespace", ns);
          navigate(`/history?${q.toString()}`);
        }}
      >
        <label>
          Object (KIND/NAME){" "}
          <input name="object" defaultValue={object} placeholder="deployment/web" required />
        </label>
        <label>
          Namespace <input name="namespace" defaultValue={namespace} placeholder="prod" />
        </label>
        <button type="submit">Show history</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items && (
        <FailureList
          failures={proofs.failed(
            trust,
            items.map((i) => i.index),
          )}
        />
      )}
      {items && items.length === 0 && <p class="muted">No recorded change to {object}.</p>}
      {items && (
        <ol class="changes" data-testid="history">
          {items.map((item) => (
            <li
              key={item.index}
              class={proofs.verdict(trust, item.index).state === "failed" ? "change row-bad" : "change"}
            >
              <header>
                <ProofMark verdict={proofs.verdict(trust, item.index)} index={item.index} />{" "}
                <Link to={`/event/${item.index}`}>{shortTime(item.row.time)}</Link>{" "}
                <strong>{item.row.verb}</strong>
                {item.row.resource.includes("/") ? ` (${item.row.resource})` : ""} by{" "}
                <Link to={personLink(item.row.user)}>{item.row.user || "—"}</Link>{" "}
                <span class={Number(item.row.code) >= 400 ? "code-bad" : "muted"}>{item.row.code}</span>
              </header>
              {item.changes === undefined ? (
                <p class="muted small">No request body recorded (audit level Metadata).</p>
              ) : item.changes.length === 0 ? (
                <p class="muted small">No field changed.</p>
              ) : (
                <>
                  {item.body === "patch" && <p class="muted small">A patch; the fields it sets:</p>}
                  <ul class="diff">
                    {item.changes.map((c) => (
                      <Change key={c.path} c={c} />
                    ))}
                  </ul>
                </>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
