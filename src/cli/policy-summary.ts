// The human summary printed at the end of `kubetrail policy test`.
import type { ImpactSummary, PolicyComparison } from "../audit/policy/impact.js";
import { LEVELS } from "../audit/types.js";
import { formatBytes, formatTable } from "./output/table.js";

const pct = (part: number, whole: number) => (whole === 0 ? "0%" : `${((100 * part) / whole).toFixed(1)}%`);

/** formatTable's lines, indented under a heading. */
function table(headers: string[], rows: string[][], indent = "  "): string[] {
  return formatTable(headers, rows)
    .trimEnd()
    .split("\n")
    .map((l) => indent + l);
}

/** The summary block: what is kept and dropped, per level and rule, and the daily projection. */
export function formatSummary(s: ImpactSummary, policyName: string): string {
  const out: string[] = [];
  out.push(`Summary for ${policyName}: ${s.events} events, ${formatBytes(s.inputBytes)} as received`);
  out.push("");
  out.push("By level:");
  out.push(
    ...table(
      ["LEVEL", "EVENTS", "RECEIVED", "STORED"],
      LEVELS.map((l) => {
        const t = s.byLevel[l];
        return [l, String(t.events), formatBytes(t.inputBytes), formatBytes(t.storedBytes)];
      }),
    ),
  );
  out.push("");
  out.push("By rule:");
  out.push(
    ...table(
      ["RULE", "LEVEL", "EVENTS", "DROPPED", "STORED", "SELECTS"],
      s.byRule.map((r) => [
        r.rule === null ? "none" : String(r.rule),
        r.level,
        String(r.events),
        String(r.dropped),
        formatBytes(r.storedBytes),
        r.description,
      ]),
    ),
  );
  out.push("");
  const none = s.dropped["level-none"];
  const omitted = s.dropped["omitted-stage"];
  const droppedEvents = none.events + omitted.events;
  out.push(
    `Dropped: ${droppedEvents} of ${s.events} events (${pct(droppedEvents, s.events)}): ` +
      `${none.events} at level None (${formatBytes(none.inputBytes)}), ${omitted.events} in omitted stages (${formatBytes(omitted.inputBytes)})`,
  );
  out.push(
    `Stored: ${s.storedEvents} events, ${formatBytes(s.storedBytes)} (${pct(s.storedBytes, s.inputBytes)} of the bytes received)`,
  );
  if (s.perDay && s.spanSeconds) {
    out.push(
      `Projected per day at the input's rate (${s.events} events over ${s.spanSeconds.toFixed(1)} s): ` +
        `${formatBytes(s.perDay.storedBytes)} stored (${Math.round(s.perDay.storedEvents)} events) instead of ${formatBytes(s.perDay.inputBytes)}`,
    );
  } else {
    out.push("Projected per day: unknown (the input spans no measurable time)");
  }
  return out.join("\n") + "\n";
}

export function formatComparison(c: PolicyComparison, a: string, b: string): string {
  const out: string[] = [];
  out.push(`Compared with ${b}:`);
  const delta = (x: number, y: number) => `${y >= x ? "+" : "-"}${formatBytes(Math.abs(y - x))}`;
  out.push(
    `  stored events: ${c.storedEvents[0]} → ${c.storedEvents[1]} (${c.storedEvents[1] - c.storedEvents[0] >= 0 ? "+" : ""}${c.storedEvents[1] - c.storedEvents[0]})`,
  );
  out.push(
    `  stored bytes:  ${formatBytes(c.storedBytes[0])} → ${formatBytes(c.storedBytes[1])} (${delta(c.storedBytes[0], c.storedBytes[1])})`,
  );
  if (c.perDayStoredBytes) {
    const [x, y] = c.perDayStoredBytes;
    out.push(`  per day:       ${formatBytes(x)} → ${formatBytes(y)} (${delta(x, y)})`);
  }
  if (c.changes.length === 0) out.push("  every event is treated the same by both policies");
  else {
    out.push(`  events treated differently (stored level with ${a} → with ${b}):`);
    out.push(
      ...table(
        ["FROM", "TO", "EVENTS"],
        c.changes.map((ch) => [ch.from, ch.to, String(ch.events)]),
        "    ",
      ),
    );
  }
  return out.join("\n") + "\n";
}
