// kubetrail's own entries: alerts (with their rule, severity and the events that triggered
// them) and admission decisions (what each policy said). Each is an entry of the log, checked
// like any event; the events an alert cites link to their own pages.
import { useMemo } from "preact/hooks";
import { Link } from "../components/Link.js";
import { FailureList, ProofMark } from "../components/ProofMark.js";
import { personLink, shortTime } from "../event.js";
import { MAX_ROWS, usePaged, type Row } from "../paged.js";
import { proofs, useVerdicts } from "../trust/proofs.js";
import type { Trust } from "../trust/state.js";

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});

function objectText(o: Obj): string {
  const ns = str(o["namespace"]);
  const name = str(o["name"]);
  const what = [str(o["resource"]), str(o["subresource"])].filter((x) => x).join("/");
  return `${what}${what && (ns || name) ? " " : ""}${ns ? `${ns}/` : ""}${name}`;
}

function AlertBody({ row }: { row: Row }) {
  const v = row.value;
  const severity = str(v["severity"]);
  const indexes = Array.isArray(v["indexes"])
    ? (v["indexes"] as unknown[]).filter((i) => typeof i === "number")
    : [];
  return (
    <>
      <header>
        <span class={`severity severity-${severity}`}>{severity || "?"}</span>{" "}
        <strong>{str(v["title"])}</strong> <span class="muted mono small">{str(v["rule"])}</span>
      </header>
      <p class="small">{str(v["description"])}</p>
      <p class="small">
        {str(v["user"]) && (
          <>
            by <Link to={personLink(str(v["user"]))}>{str(v["user"])}</Link>{" "}
          </>
        )}
        {objectText(obj(v["object"])) && <>on {objectText(obj(v["object"]))} </>}
        {indexes.length > 0 && (
          <>
            · triggered by{" "}
            {indexes.slice(0, 20).map((i, n) => (
              <>
                {n > 0 ? ", " : ""}
                <Link to={`/event/${i as number}`}>entry {i as number}</Link>
              </>
            ))}
            {indexes.length > 20 ? ` and ${indexes.length - 20} more` : ""}
          </>
        )}
      </p>
    </>
  );
}

function DecisionBody({ row }: { row: Row }) {
  const v = row.value;
  const result = str(v["result"]);
  const user = str(obj(v["user"])["username"]);
  const policies = Array.isArray(v["policies"]) ? (v["policies"] as unknown[]).map(obj) : [];
  const failing = policies.filter((p) => str(p["status"]) !== "pass");
  return (
    <>
      <header>
        <span class={`decision decision-${result}`}>
          {result || (v["allowed"] === true ? "allow" : "deny")}
        </span>{" "}
        <strong>
          {str(v["operation"])} {objectText(obj(v["object"]))}
        </strong>
        {user && (
          <>
            {" "}
            by <Link to={personLink(user)}>{user}</Link>
          </>
        )}
      </header>
      {str(v["message"]) && <p class="small">{str(v["message"])}</p>}
      {failing.length > 0 && (
        <ul class="small">
          {failing.map((p, i) => (
            <li key={i}>
              <span class="mono">{str(p["policy"])}</span>: {str(p["status"])}
              {Array.isArray(p["violations"]) &&
                (p["violations"] as unknown[]).map(obj).map((x, j) => (
                  <span key={j}>
                    {" "}
                    — {str(x["message"])}
                    {str(x["field"]) ? ` (${str(x["field"])})` : ""}
                  </span>
                ))}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function Records({ kind, trust }: { kind: "Alert" | "AdmissionDecision"; trust: Trust }) {
  useVerdicts();
  const params = useMemo(() => ({ kind }), [kind]);
  const paged = usePaged("/v1/records", params, trust);
  const title = kind === "Alert" ? "Alerts" : "Admission decisions";
  return (
    <div class="records">
      <h1>{title}</h1>
      <FailureList
        failures={proofs.failed(
          trust,
          paged.rows.map((r) => r.index),
        )}
      />
      {paged.error && (
        <p class="error" role="alert">
          {paged.error}
        </p>
      )}
      {!paged.loading && paged.rows.length === 0 && !paged.error && (
        <p class="muted">
          {kind === "Alert"
            ? "No alert in the log: the detector has raised none (or runs with --no-detect)."
            : "No admission decision in the log: guardrails are not enabled on this server, or nothing was reviewed yet."}
        </p>
      )}
      <ol class="record-list" data-testid="records">
        {paged.rows.map((row) => {
          const verdict = proofs.verdict(trust, row.index);
          return (
            <li
              key={row.index}
              class={verdict.state === "failed" ? "record row-bad" : "record"}
              data-index={row.index}
            >
              <div class="record-meta">
                <ProofMark verdict={verdict} index={row.index} />{" "}
                <Link to={`/event/${row.index}`}>{shortTime(row.time)}</Link>
              </div>
              <div class="record-body">
                {kind === "Alert" ? <AlertBody row={row} /> : <DecisionBody row={row} />}
              </div>
            </li>
          );
        })}
      </ol>
      {!paged.done && paged.rows.length < MAX_ROWS && (
        <button type="button" onClick={() => paged.more()} disabled={paged.loading}>
          Load more
        </button>
      )}
    </div>
  );
}
