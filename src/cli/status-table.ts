// The status report as two kubectl-style tables: where each part of the log stands, then the
// disk it takes. The JSON form (-o json) is the report itself.
import { formatBytes, formatTable } from "./output/table.js";
import type { Progress, StatusReport } from "../status/collect.js";

const DASH = "-";

function count(n: number | undefined): string {
  return n === undefined ? DASH : n.toLocaleString("en-US");
}

function seconds(s: number | null | undefined): string {
  if (s === undefined || s === null) return DASH;
  if (s < 120) return `${s.toFixed(1)}s`;
  if (s < 7200) return `${(s / 60).toFixed(1)}m`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}

function progressRow(part: string, p: Progress): string[] {
  return [
    part,
    p.state,
    count(p.position),
    count(p.lagEntries),
    seconds(p.oldestPendingAgeSeconds),
    p.message ?? "",
  ];
}

function publishedRow(p: StatusReport["published"]): string[] {
  const detail =
    p.state === "ok"
      ? `age ${seconds(p.ageSeconds)}, cosigned by ${p.cosigners?.length ? p.cosigners.join(", ") : "no one"}`
      : (p.message ?? "");
  return ["published", p.state, count(p.size), count(p.behind), DASH, detail];
}

export function statusTable(r: StatusReport): string {
  const cp = r.checkpoint;
  const rows: string[][] = [
    [
      "log",
      "ok",
      count(r.log.entries),
      DASH,
      DASH,
      `origin ${r.log.origin ?? DASH} (size from the ${r.log.from})`,
    ],
    [
      "checkpoint",
      cp.state,
      count(cp.size),
      DASH,
      DASH,
      cp.state === "ok" ? `age ${seconds(cp.ageSeconds)}, root ${cp.rootHash}` : (cp.message ?? ""),
    ],
    progressRow("index", r.index),
    progressRow("detector", r.detector),
    progressRow("dedupe", r.dedupe),
    ["guard", r.guard.state, DASH, DASH, DASH, r.guard.message ?? ""],
    [
      "retention",
      r.retention.state,
      count(r.retention.prunedBefore),
      DASH,
      DASH,
      r.retention.message ??
        (r.retention.prunedBefore > 0
          ? `entries before it pruned: ${r.retention.reason ?? ""}`
          : "nothing pruned"),
    ],
    publishedRow(r.published),
  ];
  const status = formatTable(["PART", "STATE", "POSITION", "LAG", "OLDEST-PENDING", "DETAIL"], rows);
  const disk = formatTable(
    ["DISK", "SIZE", "BYTES", "FILES"],
    [
      ...r.disk.parts.map((p) => [p.part, formatBytes(p.bytes), String(p.bytes), String(p.files)]),
      ["total", formatBytes(r.disk.total.bytes), String(r.disk.total.bytes), String(r.disk.total.files)],
    ],
  );
  return `${status}\n${disk}`;
}
