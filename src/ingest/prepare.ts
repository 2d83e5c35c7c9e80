// The per-event half of ingest, before dedupe: the policy/redaction transform, the stored bytes
// and their content hash. Pure and independent of every other event, so it runs where the
// events were parsed: in the caller's thread (import) or in a receive worker (the webhook,
// see receive-pool.ts), which keeps parsing and hashing off the thread that serves requests.
import type { EventDigest } from "../audit/event-digest.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../audit/types.js";
import { hashLeaf } from "../tlog/index.js";
import { contentHashOfLeaf, type ContentHash } from "./dedupe.js";
import { tooDeepAsBadInput } from "./errors.js";
import { encodeEvent } from "./normalize.js";

/** Policy + redaction, applied after normalisation; returning null drops the event (level None). */
export type EventTransform = (event: AuditEvent) => AuditEvent | null | undefined;

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

export interface PreparedBatch {
  /** Events received, including those the transform dropped. */
  received: number;
  /** Dropped by the ingest policy. */
  dropped: number;
  events: PreparedEvent[];
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
 * the event encoded. Throws IngestError naming the event when it is too deeply nested.
 */
export function prepareEvents(
  events: readonly AuditEvent[],
  asSent: readonly (Uint8Array | undefined)[] = [],
  transform?: EventTransform,
): PreparedBatch {
  const batch: PreparedBatch = { received: events.length, dropped: 0, events: [] };
  for (const [i, raw] of events.entries()) {
    let event: AuditEvent;
    let bytes: Uint8Array;
    try {
      const transformed = transform ? transform(raw) : raw;
      if (transformed === undefined || transformed === null) {
        batch.dropped++;
        continue;
      }
      event = withoutForgedFlag(transformed);
      bytes = (event === raw ? asSent[i] : undefined) ?? encodeEvent(event);
    } catch (err) {
      throw tooDeepAsBadInput(err, `event ${i} (auditID ${raw.auditID})`);
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
