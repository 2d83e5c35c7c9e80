import type { Verdict } from "../trust/proofs.js";

/** The per-row mark: checked in this browser against the verified checkpoint, or why not. */
export function ProofMark({ verdict, index }: { verdict: Verdict; index: number }) {
  if (verdict.state === "ok")
    return (
      <span
        class="mark ok"
        role="img"
        aria-label={`entry ${index} verified`}
        title="Inclusion proof verified in this browser"
      >
        ✓
      </span>
    );
  if (verdict.state === "failed")
    return (
      <span
        class="mark bad"
        role="img"
        aria-label={`entry ${index} failed verification`}
        title={verdict.reason}
      >
        ✗
      </span>
    );
  return (
    <span class="mark pending" role="img" aria-label={`entry ${index} being checked`} title="Checking…">
      ·
    </span>
  );
}

/** Names every entry on the page that failed, with why: never hidden behind a tooltip. */
export function FailureList({ failures }: { failures: { index: number; reason: string }[] }) {
  if (failures.length === 0) return null;
  return (
    <div class="banner bad" role="alert" data-testid="proof-failures">
      <strong>
        {failures.length === 1
          ? "1 entry failed verification"
          : `${failures.length} entries failed verification`}
      </strong>
      <ul>
        {failures.slice(0, 20).map((f) => (
          <li key={f.index}>{f.reason}</li>
        ))}
      </ul>
    </div>
  );
}
