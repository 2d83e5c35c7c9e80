// The per-event half of ingest, before dedupe: the policy/redaction transform, the stored bytes
// and their content hash. Pure and independent of every other event, so it runs where the
// events were parsed: in the caller's thread (import) or in a receive worker (the webhook,
// see receive-pool.ts), which keeps parsing and hashing off the thread that serves requests.
import type { EventDigest } from "../audit/event-digest.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../audit/types.js";
import { MAX_ENTRY_BYTES } from "../store/types.js";
import { hashLeaf } from "../tlog/index.js";
import { contentHashOfLeaf, type ContentHash } from "./dedupe.js";
import { IngestError, tooDeepAsBadInput } from "./errors.js";
import { encodeEvent, type ReceivedJson } from "./normalize.js";
import type { RejectedSummary } from "./quarantine.js";

/**
 * Policy + redaction, applied after normalisation; returning null drops the event (level None).
 * `raw` is the event's JSON as received, when known, and `members` where its top-level member
 * names start in it (see IngestTransform).
 */
export type EventTransform = (
  event: AuditEvent,
  raw?: Uint8Array,
  members?: readonly number[],
) => AuditEvent | null | undefined;

/** One event ready for dedupe: its key, the bytes to store and their hash. */
export interface PreparedEvent {
  auditID: string;
  stage: string;
  bytes: Uint8Array;
  /** The entry's leaf hash in hex, for dedupe (see contentHash). */
  hash: ContentHash;
  /** The same leaf hash, 32 bytes, for the log (see LogWriter.append). */
  leaf: Uint8Array;
  /** The event itself when it was prepared in this thread; a worker sends only the bytes. */
  event?: AuditEvent;
  /** What a worker tells about the event besides its bytes (see event-digest.ts). */
  digest?: EventDigest;
}

/** An entry of kubetrail's own stored with the batch's events, not deduplicated (see quarantine.ts). */
export interface PreparedRecord {
  bytes: Uint8Array;
  leaf: Uint8Array;
}

export interface PreparedBatch {
  /** Events received, including those the transform dropped (and items refused one by one). */
  received: number;
  /** Dropped by the ingest policy. */
  dropped: number;
  events: PreparedEvent[];
  /** QuarantinedItem entries for the items refused one by one, appended with the events. */
  quarantine?: PreparedRecord[];
  /** The refused items, for the sender's answer. */
  rejected?: RejectedSummary[];
}

/** Only kubetrail may set the conflict flag: one arriving with the event would poison a dedupe rebuild. */
function withoutForgedFlag(event: AuditEvent): AuditEvent {
  if (event.annotations === undefined || !Object.hasOwn(event.annotations, KUBETRAIL_ANNOTATIONS.conflict))
    return event;
  const { [KUBETRAIL_ANNOTATIONS.conflict]: _forged, ...annotations } = event.annotations;
  return { ...event, annotations };
}

/**
 * Transforms each event and gives the bytes to store for it: `asSent[i]` (events[i] as the
 * sender encoded it, see sent-bytes.ts) when the transform left the event as it was, else
 * the event encoded. `raws[i]` is events[i]'s JSON as received, when known (else asSent[i]).
 * An event too deeply nested to process, or larger than the log takes, is IngestError naming
 * it (`where(i)`): thrown, or given to `onRefused` (with its position in `events`) and left
 * out of the batch.
 */
export function prepareEvents(
  events: readonly AuditEvent[],
  asSent: readonly (Uint8Array | undefined)[] = [],
  transform?: EventTransform,
  raws: readonly (ReceivedJson | undefined)[] = [],
  onRefused?: (i: number, err: IngestError) => void,
  where: (i: number) => string = (i) => `event ${i} (auditID ${events[i]?.auditID})`,
): PreparedBatch {
  const batch: PreparedBatch = { received: events.length, dropped: 0, events: [] };
  for (const [i, raw] of events.entries()) {
    let event: AuditEvent;
    let bytes: Uint8Array;
    try {
      const received = raws[i];
      const transformed = transform ? transform(raw, received?.bytes ?? asSent[i], received?.members) : raw;
      if (transformed === undefined || transformed === null) {
        batch.dropped++;
        continue;
      }
      event = withoutForgedFlag(transformed);
      bytes = (event === raw ? asSent[i] : undefined) ?? encodeEvent(event);
      // The log refuses a larger entry, and with it every event of the batch.
      if (bytes.length > MAX_ENTRY_BYTES)
        throw new IngestError(
          "too_large",
          `${where(i)}: ${bytes.length} bytes to store, over the log's largest entry (${MAX_ENTRY_BYTES} bytes)`,
        );
    } catch (err) {
      const refused = tooDeepAsBadInput(err, where(i));
      if (onRefused === undefined || !(refused instanceof IngestError)) throw refused;
      onRefused(i, refused);
      continue;
    }
    const leaf = hashLeaf(bytes);
    batch.events.push({
      auditID: event.auditID,
      stage: event.stage,
      bytes,
      hash: contentHashOfLeaf(leaf),
      leaf,
      event,
    });
  }
  return batch;
}
