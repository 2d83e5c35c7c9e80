// The retention record: the log entry a retention run appends, and has covered by a signed
// checkpoint, before it deletes any bundle. It says which range it removes, under which
// policy, by whom and when, and how far the log is pruned with it (`prunedBefore`: every bundle
// wholly before that entry), so the newest record covers every range pruned so far even after
// older records were pruned themselves. `verify` finds the records as it reads the log and
// accepts a pruned bundle only when a record it checked covers it.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { findRecords } from "./find.js";

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

/** Retention records among the lines of a bundle, with their log index. */
export function findRetentionRecords(
  bundle: Uint8Array,
  firstIndex: number,
): { index: number; record: RetentionRecordEntry }[] {
  return findRecords(bundle, firstIndex, RETENTION_RECORD_KIND, (doc) => {
    const r = doc as Partial<RetentionRecordEntry>;
    const ok =
      Number.isSafeInteger(r.prunedBefore) &&
      typeof r.by === "string" &&
      typeof r.time === "string" &&
      typeof r.policy?.name === "string" &&
      Number.isSafeInteger(r.range?.from) &&
      Number.isSafeInteger(r.range?.before);
    return ok ? (r as RetentionRecordEntry) : null;
  });
}
