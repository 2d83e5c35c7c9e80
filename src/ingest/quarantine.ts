// Items of a webhook EventList that are not valid audit events are not thrown away with their
// batch (the apiserver would re-send it, then drop every good event in it) and not stored as
// events either: each becomes a `kubetrail.dev/v1` QuarantinedItem entry in the log, next to
// the batch's valid events, so what was received stays provable. Credentials in the item are
// masked as in any event; an item too large to keep is recorded by its keyed hash and size.
// See docs/log-format.md ("Quarantined items").
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import type { ItemRedactor } from "../audit/ingest-transform.js";
import type { RejectedItem } from "./normalize.js";

export const QUARANTINED_ITEM_KIND = "QuarantinedItem";

/** Items larger than this are recorded by their tag and size only. */
export const MAX_QUARANTINED_ITEM_BYTES = 256 * 1024;
/** Positions listed per entry; `count` says how many there were. */
const MAX_INDEXES = 100;

/** A refused item as the sender is told about it. */
export interface RejectedSummary {
  index: number;
  code: string;
  field?: string;
  /** Names the item and field; credentials it quoted are masked. */
  message: string;
}

/** The entry for one or more identical refused items of a batch (see docs/log-format.md). */
export interface QuarantinedItemRecord {
  kind: typeof QUARANTINED_ITEM_KIND;
  apiVersion: typeof KUBETRAIL_API_VERSION;
  /** When kubetrail received it (RFC 3339, microseconds). */
  time: string;
  source: "webhook";
  reason: { code: string; field?: string; message: string };
  /** Positions of the item in the EventList's items (the first 100), and how many there were. */
  indexes: number[];
  count: number;
  /** HMAC-SHA256 of the item's bytes as received, under the log's redaction key, and their length. */
  itemTag: string;
  itemBytes: number;
  /** The item's auditID, when it had a string one. */
  auditID?: string;
  /** The item, credentials masked; absent when larger than MAX_QUARANTINED_ITEM_BYTES. */
  item?: unknown;
  /** Paths in `item` whose values were masked, and the kinds of credentials found. */
  redacted?: string[];
  redactedKinds?: string[];
}

/** RFC 3339 with microseconds, as MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/**
 * One entry per distinct refused item (identical items of one batch share an entry), in the
 * order the items came; and what the sender is told. Entries are compact JSON, one line each.
 */
export function quarantineEntries(
  rejected: readonly RejectedItem[],
  redactor: ItemRedactor,
  time: string,
): { entries: Uint8Array[]; summaries: RejectedSummary[] } {
  const byTag = new Map<string, { first: RejectedItem; indexes: number[]; count: number }>();
  const summaries: RejectedSummary[] = [];
  for (const r of rejected) {
    const message = redactor.text(r.error.message);
    summaries.push({
      index: r.index,
      code: r.error.code,
      ...(r.error.field === undefined ? {} : { field: r.error.field }),
      message,
    });
    const tag = redactor.tag(r.bytes);
    const group = byTag.get(tag);
    if (group === undefined) byTag.set(tag, { first: r, indexes: [r.index], count: 1 });
    else {
      group.count++;
      if (group.indexes.length < MAX_INDEXES) group.indexes.push(r.index);
    }
  }
  const entries = [...byTag].map(([itemTag, { first, indexes, count }]) => {
    const record: QuarantinedItemRecord = {
      kind: QUARANTINED_ITEM_KIND,
      apiVersion: KUBETRAIL_API_VERSION,
      time,
      source: "webhook",
      reason: {
        code: first.error.code,
        ...(first.error.field === undefined ? {} : { field: first.error.field }),
        message: redactor.text(first.error.message),
      },
      indexes,
      count,
      itemTag,
      itemBytes: first.bytes.length,
    };
    const masked =
      first.bytes.length <= MAX_QUARANTINED_ITEM_BYTES ? maskedItem(redactor, first.value) : undefined;
    if (masked !== undefined) {
      const auditID = (masked.value as { auditID?: unknown } | null)?.auditID;
      if (typeof auditID === "string") record.auditID = auditID;
      record.item = masked.value;
      if (masked.paths.length > 0) {
        record.redacted = masked.paths;
        record.redactedKinds = masked.kinds;
      }
    }
    return Buffer.from(encodeRecord(record), "utf8");
  });
  return { entries, summaries };
}

/** The item masked, or undefined when it is too deeply nested to walk (then only its tag is kept). */
function maskedItem(redactor: ItemRedactor, value: unknown): ReturnType<ItemRedactor["value"]> | undefined {
  try {
    return redactor.value(value, "item");
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function encodeRecord(record: QuarantinedItemRecord): string {
  try {
    return JSON.stringify(record);
  } catch {
    // An item too deeply nested to encode is recorded by its tag and size, as a large one.
    const { item: _item, redacted: _r, redactedKinds: _k, ...rest } = record;
    return JSON.stringify(rest);
  }
}
