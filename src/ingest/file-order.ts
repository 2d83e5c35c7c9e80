// Time order of audit log files. The log backend (lumberjack) renames full files to
// NAME-2006-01-02T15-04-05.000.EXT (then .gz when compressing) and keeps writing NAME.EXT, so the
// name gives the rotation time; the first event's timestamp orders files the name does not.
import path from "node:path";
import { firstTimestamp } from "./audit-file.js";

const ROTATED = /-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d{1,9})?)(?:\.[^.]+)?(?:\.gz)?$/;

/** The rotation time encoded in a lumberjack backup name, as a sortable UTC string. */
export function rotationTime(file: string): string | undefined {
  const m = ROTATED.exec(path.basename(file));
  if (!m) return undefined;
  const [date, time] = m[1]!.split("T") as [string, string];
  return `${date}T${time.replace(/-/g, ":")}`;
}

/**
 * A UTC sort key with microsecond precision for an RFC 3339 timestamp (Date alone keeps only
 * milliseconds, and offsets other than Z would not sort as strings).
 */
export function timeKey(ts: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return `${new Date(seconds).toISOString().slice(0, 19)}.${(m[2] ?? "").padEnd(9, "0")}`;
}

interface Keyed {
  file: string;
  first?: string;
  rotated?: string;
}

function compare(a: Keyed, b: Keyed): number {
  // Events first, then the rotation time from the name (the live file, without one, last), then the name.
  const byFirst = (a.first ?? "\uffff").localeCompare(b.first ?? "\uffff");
  if (byFirst !== 0 && a.first !== undefined && b.first !== undefined) return byFirst;
  const byRotation = (a.rotated ?? "\uffff").localeCompare(b.rotated ?? "\uffff");
  if (byRotation !== 0) return byRotation;
  if (byFirst !== 0) return byFirst;
  return a.file.localeCompare(b.file);
}

/** `files` in the order their events were written. */
export async function orderAuditFiles(files: readonly string[]): Promise<string[]> {
  const keyed: Keyed[] = await Promise.all(
    files.map(async (file) => {
      const ts = await firstTimestamp(file);
      return { file, first: ts === undefined ? undefined : timeKey(ts), rotated: rotationTime(file) };
    }),
  );
  return keyed.sort(compare).map((k) => k.file);
}
