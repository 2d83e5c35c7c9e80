// The retention record: the log entry a retention run appends, and has covered by a signed
// checkpoint, before it deletes any bundle or entry. It says which range it removes, under which
// policy, by whom and when, and how far the log is pruned with it (`prunedBefore`: every bundle
// wholly before that entry), so the newest record covers every range pruned so far even after
// older records were pruned themselves. A run that thins kept bundles (removes the entries the
// policy no longer keeps from bundles that still hold entries it keeps) lists those entries
// too, per bundle as a bitmap of its lines. `verify` finds the records as it reads the log and
// accepts a pruned bundle, or a thinned entry, only when a record it checked covers it.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { BUNDLE_SIZE } from "../store/types.js";
import { findRecords } from "./find.js";

export const RETENTION_RECORD_KIND = "RetentionRecord";

/** Entries of one kept bundle a run thinned: `lines` is the base64 of a bitmap of its lines (bit i of byte i>>3, lowest bit first). */
export interface ThinnedBundle {
  bundle: number;
  lines: string;
}

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
  /** Entries removed one by one from bundles that are kept (tombstoned, as erasure does). */
  thinned?: ThinnedBundle[];
}

export function retentionRecord(
  fields: Omit<RetentionRecordEntry, "apiVersion" | "kind">,
): RetentionRecordEntry {
  return { apiVersion: KUBETRAIL_API_VERSION, kind: RETENTION_RECORD_KIND, ...fields };
}

const BITMAP_BYTES = BUNDLE_SIZE / 8;

/** The bitmap text of a bundle's lines (each in [0, BUNDLE_SIZE)). */
export function encodeLines(lines: Iterable<number>): string {
  const bits = new Uint8Array(BITMAP_BYTES);
  for (const i of lines) bits[i >> 3]! |= 1 << (i & 7);
  return Buffer.from(bits).toString("base64");
}

/** The lines a bitmap text names, ascending; null when it is not one. */
export function decodeLines(text: string): number[] | null {
  const bits = Buffer.from(text, "base64");
  if (bits.length !== BITMAP_BYTES || bits.toString("base64") !== text) return null;
  const lines: number[] = [];
  for (let i = 0; i < BUNDLE_SIZE; i++) if (bits[i >> 3]! & (1 << (i & 7))) lines.push(i);
  return lines;
}

function validThinned(value: unknown): value is ThinnedBundle[] {
  return (
    Array.isArray(value) &&
    value.every(
      (t: Partial<ThinnedBundle> | null) =>
        t !== null &&
        typeof t === "object" &&
        Number.isSafeInteger(t.bundle) &&
        t.bundle! >= 0 &&
        typeof t.lines === "string" &&
        decodeLines(t.lines) !== null,
    )
  );
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
      Number.isSafeInteger(r.range?.before) &&
      (r.thinned === undefined || validThinned(r.thinned));
    return ok ? (r as RetentionRecordEntry) : null;
  });
}
