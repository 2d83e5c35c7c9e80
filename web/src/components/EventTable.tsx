// The list under the histogram: one request per row, newest first, more rows as it scrolls.
import { Component } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { historyLink, personLink, shortTime } from "../event.js";
import { MAX_ROWS, type Paged, type Row } from "../paged.js";
import { proofs, useVerdicts, type Verdict } from "../trust/proofs.js";
import type { Trust } from "../trust/state.js";
import { Link } from "./Link.js";
import { FailureList, ProofMark } from "./ProofMark.js";

/**
 * One request. Re-rendered only when its row or its verdict changes: a verdict arriving for
 * one page must not re-render the thousands of rows above it while the user scrolls.
 */
class EventRow extends Component<{ row: Row; verdict: Verdict }> {
  override shouldComponentUpdate(next: { row: Row; verdict: Verdict }): boolean {
    return next.row !== this.props.row || next.verdict !== this.props.verdict;
  }

  override render() {
    const { row: r, verdict } = this.props;
    return (
      <tr class={verdict.state === "failed" ? "row-bad" : ""} data-index={r.index}>
        <td class="col-mark">
          <ProofMark verdict={verdict} index={r.index} />
        </td>
        <td class="nowrap">
          <Link to={`/event/${r.index}`} title={`entry ${r.index}`}>
            {shortTime(r.time)}
          </Link>
        </td>
        <td class="clip">
          {r.user ? <Link to={personLink(r.user)}>{r.user}</Link> : <span class="muted">—</span>}
        </td>
        <td>{r.verb}</td>
        <td class="clip">{r.resource}</td>
        <td class="clip">
          {r.object ? (
            <Link to={historyLink(r.object)} title="history of this object">
              {r.namespace ? `${r.namespace}/` : ""}
              {r.name}
            </Link>
          ) : (
            `${r.namespace}${r.namespace && r.name ? "/" : ""}${r.name}`
          )}
        </td>
        <td class={Number(r.code) >= 400 ? "code-bad" : ""}>{r.code}</td>
        <td class="clip">{r.source}</td>
      </tr>
    );
  }
}

export function EventTable({ paged, trust, caption }: { paged: Paged; trust: Trust; caption: string }) {
  useVerdicts();
  const sentinel = useRef<HTMLDivElement>(null);
  const more = useRef(paged.more);
  more.current = paged.more;
  useEffect(() => {
    const el = sentinel.current;
    if (el === null) return;
    const observer = new IntersectionObserver(
      (seen) => {
        if (seen.some((s) => s.isIntersecting)) more.current();
      },
      { rootMargin: "600px" },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const failures = proofs.failed(
    trust,
    paged.rows.map((r) => r.index),
  );
  return (
    <div class="events">
      <FailureList failures={failures} />
      <table class="event-table" data-testid="events">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col" class="col-mark">
              <span class="sr-only">Verified</span>
            </th>
            <th scope="col">Time (UTC)</th>
            <th scope="col">User</th>
            <th scope="col">Verb</th>
            <th scope="col">Resource</th>
            <th scope="col">Namespace/name</th>
            <th scope="col">Code</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {paged.rows.map((r) => (
            <EventRow key={r.index} row={r} verdict={proofs.verdict(trust, r.index)} />
          ))}
        </tbody>
      </table>
      <div ref={sentinel} class="sentinel" aria-hidden="true" />
      <p class="muted list-status" aria-live="polite">
        {paged.error !== undefined ? (
          <span class="error" role="alert">
            {paged.error}
          </span>
        ) : paged.loading ? (
          "Loading…"
        ) : paged.rows.length === 0 ? (
          "No matching events."
        ) : paged.done ? (
          `All ${paged.rows.length.toLocaleString()} matching events shown.`
        ) : paged.rows.length >= MAX_ROWS ? (
          `Showing the newest ${MAX_ROWS.toLocaleString()}: narrow the filter or the time range to see more.`
        ) : (
          <button type="button" onClick={() => paged.more()}>
            Load more
          </button>
        )}
      </p>
    </div>
  );
}
