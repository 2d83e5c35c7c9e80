// The detector's progress through the log (DATA/detect.position): the index of the next entry
// to evaluate. Saved only after the alerts of a batch are durable in the log, so a restart
// neither re-raises nor skips alerts.
//
// The file is derived: when it is unreadable, not an index, or beyond the log, the position is
// rebuilt from the log itself. Alerts are entries that name their triggering entries, and
// every entry before a saved position had its alerts appended first, so the entry after the
// last alert's last trigger is a position from which nothing already alerted is raised again
// and nothing unevaluated is skipped (entries in between raised nothing before, and raise
// nothing again).
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import type { LogReader } from "../store/types.js";
import { DetectError } from "./types.js";

export async function readPosition(file: string): Promise<number> {
  let data: Buffer | null;
  try {
    data = await readFileIfExists(file);
  } catch (err) {
    throw new DetectError("position", `${file}: ${(err as Error).message}`, { cause: err });
  }
  if (data === null) return 0;
  const text = data.toString("utf8").trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new DetectError(
      "position",
      `${file}: expected a log index, found ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return n;
}

export function writePosition(file: string, position: number): Promise<void> {
  return writeFileAtomic(file, `${position}\n`);
}

/** Entries read per step of the backward scan. */
const SCAN_WINDOW = 4096;

/**
 * The position implied by the log of `size` entries: after the triggers of the last alert in
 * it, or 0 when it holds no alert. Reads backwards from the end until it finds one.
 */
export async function positionFromLog(log: Pick<LogReader, "readEntries">, size: number): Promise<number> {
  for (let end = size; end > 0; end -= SCAN_WINDOW) {
    let found: number | undefined;
    for await (const entry of log.readEntries(Math.max(0, end - SCAN_WINDOW), end)) {
      // A pruned or erased alert no longer names its triggers; an earlier one still bounds the position.
      if (entry.gone !== undefined) continue;
      const text = Buffer.from(entry.data).toString("utf8");
      if (!text.includes('"Alert"')) continue;
      let rec: { apiVersion?: unknown; kind?: unknown; indexes?: unknown };
      try {
        rec = JSON.parse(text) as typeof rec;
      } catch {
        continue;
      }
      if (rec.apiVersion !== KUBETRAIL_API_VERSION || rec.kind !== "Alert" || !Array.isArray(rec.indexes))
        continue;
      const triggers = rec.indexes.filter(
        (i): i is number => Number.isSafeInteger(i) && (i as number) < size,
      );
      if (triggers.length > 0) found = Math.max(found ?? 0, ...triggers.map((i) => i + 1));
    }
    if (found !== undefined) return found;
  }
  return 0;
}

/**
 * The saved position, or one rebuilt from the log when the file is damaged or beyond the log
 * (`size` entries); `onRepair` is told what was wrong and where detection resumes.
 */
export async function loadPosition(
  file: string,
  log: Pick<LogReader, "readEntries">,
  size: number,
  onRepair?: (message: string) => void,
): Promise<number> {
  let problem: string;
  try {
    const saved = await readPosition(file);
    if (saved <= size) return saved;
    problem = `${file}: position ${saved} is beyond the log (${size} entries)`;
  } catch (err) {
    if (!(err instanceof DetectError)) throw err;
    problem = err.message;
  }
  const rebuilt = await positionFromLog(log, size);
  await writePosition(file, rebuilt);
  onRepair?.(
    `${problem}; rebuilt from the log: detection resumes at entry ${rebuilt}` +
      (rebuilt === 0 ? " (no alert in the log)" : " (after the last alert's triggers)"),
  );
  return rebuilt;
}
