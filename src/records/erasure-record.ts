// The erasure record: the log entry an erasure appends, and has covered by the log's signed
// checkpoint, before any entry's bytes are replaced by a tombstone. It names the entries it
// erases by log index, who asked, why and when, and what was asked for — as a keyed hash of the
// value (HMAC-SHA-256 under the log's redaction key), never the value itself, which is what is
// being erased. `verify` accepts an erased entry only when a record it checked lists it.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { findRecords } from "./find.js";

export const ERASURE_RECORD_KIND = "ErasureRecord";

export interface ErasureRecordEntry {
  apiVersion: typeof KUBETRAIL_API_VERSION;
  kind: typeof ERASURE_RECORD_KIND;
  time: string;
  /** Who ran the erasure. */
  by: string;
  /** Why, as given (a request reference, the law). */
  reason: string;
  /** What matched: the field and the keyed hash of the value. */
  selector: { field: "user" | "auditID" | "filter"; hmac: string };
  /** Log indexes of the erased entries, ascending. */
  entries: number[];
}

export function erasureRecord(fields: Omit<ErasureRecordEntry, "apiVersion" | "kind">): ErasureRecordEntry {
  return { apiVersion: KUBETRAIL_API_VERSION, kind: ERASURE_RECORD_KIND, ...fields };
}

export function findErasureRecords(
  bundle: Uint8Array,
  firstIndex: number,
): { index: number; record: ErasureRecordEntry }[] {
  return findRecords(bundle, firstIndex, ERASURE_RECORD_KIND, (doc) => {
    const r = doc as Partial<ErasureRecordEntry>;
    const ok =
      typeof r.by === "string" &&
      typeof r.time === "string" &&
      typeof r.reason === "string" &&
      Array.isArray(r.entries) &&
      r.entries.every((i) => Number.isSafeInteger(i));
    return ok ? (r as ErasureRecordEntry) : null;
  });
}
