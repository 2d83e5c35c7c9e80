// The retention record: the log entry a retention run appends, and has covered by a signed
// checkpoint, before it deletes any bundle. It says which range it removes, under which
// policy, by whom and when, and how far the log is pruned with it (`prunedBefore`: every bundle
// wholly before that entry), so the newest record covers every range pruned so far even after
// older records were pruned themselves. `verify` finds the records as it reads the log and
// accepts a pruned bundle only when a record it checked covers it.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";

export const RETENTION_RECORD_KIND = "RetentionRecord";

export interface RetentionRecordEntry {
  apiVersion: typeof KUBETRAIL_API_VERSION;
  kind: typeof RETENTION_RECORD_KIND;
  /** When the run decided, RFC 3339. */
  time: string;
  /** Who ran it (`--by`, or user@host). */
  by: string;
  policy: { name: string; sha256: string };
  /** Bundles of entries [from, before) are removed by this run. */
  range: { from: number; before: number };
  /** After this run every bundle wholly before this entry is gone. */
  prunedBefore: number;
}

export function retentionRecord(
  fields: Omit<RetentionRecordEntry, "apiVersion" | "kind">,
): RetentionRecordEntry {
  return { apiVersion: KUBETRAIL_API_VERSION, kind: RETENTION_RECORD_KIND, ...fields };
}

/** The marker every record's bytes hold, for finding them in a bundle without parsing each line. */
const MARKER = Buffer.from(`"kind":"${RETENTION_RECORD_KIND}"`);

/** Retention records among the lines of a bundle, with their log index. */
export function findRetentionRecords(
  bundle: Uint8Array,
  firstIndex: number,
): { index: number; record: RetentionRecordEntry }[] {
  const data = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const out: { index: number; record: RetentionRecordEntry }[] = [];
  let at = data.indexOf(MARKER);
  while (at !== -1) {
    const start = data.lastIndexOf(0x0a, at) + 1;
    let end = data.indexOf(0x0a, at);
    if (end === -1) end = data.length;
    let line = 0;
    for (let i = data.indexOf(0x0a); i !== -1 && i < start; i = data.indexOf(0x0a, i + 1)) line++;
    const record = parseRecord(data.subarray(start, end));
    if (record !== null) out.push({ index: firstIndex + line, record });
    at = data.indexOf(MARKER, end);
  }
  return out;
}

function parseRecord(line: Buffer): RetentionRecordEntry | null {
  try {
    const r = JSON.parse(line.toString("utf8")) as Partial<RetentionRecordEntry>;
    if (
      r.apiVersion !== KUBETRAIL_API_VERSION ||
      r.kind !== RETENTION_RECORD_KIND ||
      !Number.isSafeInteger(r.prunedBefore) ||
      typeof r.by !== "string" ||
      typeof r.time !== "string" ||
      typeof r.policy?.name !== "string" ||
      !Number.isSafeInteger(r.range?.from) ||
      !Number.isSafeInteger(r.range?.before)
    )
      return null;
    return r as RetentionRecordEntry;
  } catch {
    return null;
  }
}
