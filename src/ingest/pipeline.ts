// The one path every audit event takes into the log, shared by the webhook and `import`:
// normalised events → policy/redaction transform, stored bytes, content hash (prepare.ts, in
// this thread or a receive worker) → dedupe → append → resolve when durable.
import type { EventDigest } from "../audit/event-digest.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../audit/types.js";
import type { LogReader, LogWriter } from "../store/types.js";
import { hashLeaf } from "../tlog/index.js";
import {
  conflictAnnotationValue,
  keyOf,
  type ContentHash,
  type Deduper,
  type StoredRecord,
} from "./dedupe.js";
import { IngestBusyError } from "./errors.js";
import { encodeEvent } from "./normalize.js";
import { prepareEvents, type EventTransform, type PreparedBatch, type PreparedEvent } from "./prepare.js";
import type { RejectedSummary } from "./quarantine.js";

export interface IngestResult {
  received: number;
  stored: number;
  /** Identical repeats dropped. */
  duplicates: number;
  /** Stored with the duplicate-conflict annotation: same (auditID, stage), different content. */
  conflicts: number;
  /** Dropped by the ingest policy. */
  dropped: number;
  /** Items refused one by one and recorded as QuarantinedItem entries (see quarantine.ts). */
  quarantined?: number;
  /** Why, item by item (the first 20). */
  rejected?: RejectedSummary[];
  storedBytes: number;
}

/** Refused items listed in a result; `quarantined` counts them all. */
const MAX_REJECTED_LISTED = 20;

export { IngestBusyError };

export interface PipelineOptions {
  log: LogWriter & Pick<LogReader, "size">;
  deduper: Deduper;
  transform?: EventTransform;
  /** Bound on bytes handed to the log and not yet durable; beyond it `ingest` rejects with IngestBusyError. */
  maxInflightBytes?: number;
}

export interface IngestPipeline {
  /**
   * Resolves once every stored event of the batch is durable (and every in-flight repeat too).
   * `asSent[i]`, when given, is events[i] as the sender encoded it (see sent-bytes.ts): stored
   * as it is when neither the transform nor dedupe changes the event.
   */
  ingest(events: AuditEvent[], asSent?: readonly (Uint8Array | undefined)[]): Promise<IngestResult>;
  /** Like `ingest`, for events already prepared with this pipeline's transform (a receive worker's). */
  ingestPrepared(batch: PreparedBatch): Promise<IngestResult>;
  /** Resolves when nothing is in flight any more (for graceful shutdown). */
  drain(): Promise<void>;
  /**
   * Tells `listener` about every batch once it is durable: `stored[i]` is the entry at log
   * index `firstIndex + i` — the event, when it was parsed in this thread, else its bytes —
   * and `sizes[i]` its length in bytes. Lets consumers that follow the log (the detector)
   * skip reading the entries again; the log stays the source of truth for anything they
   * miss. Returns an unsubscribe function.
   */
  onStored(listener: StoredListener): () => void;
}

export type StoredListener = (
  firstIndex: number,
  stored: readonly (AuditEvent | Uint8Array)[],
  sizes: readonly number[],
  /** For entries given as bytes: what the receive worker that parsed them told (event-digest.ts). */
  digests: readonly (EventDigest | undefined)[],
) => void;

const DEFAULT_MAX_INFLIGHT_BYTES = 256 * 1024 * 1024;

/** The event whose stored bytes are `p.bytes`: prepared events from a worker carry only those. */
function eventOf(p: PreparedEvent): AuditEvent {
  return p.event ?? (JSON.parse(Buffer.from(p.bytes).toString("utf8")) as AuditEvent);
}

function withConflictFlag(event: AuditEvent, hash: string): AuditEvent {
  const annotations = {
    ...(event.annotations ?? {}),
    [KUBETRAIL_ANNOTATIONS.conflict]: conflictAnnotationValue(hash),
  };
  return { ...event, annotations };
}

export function createPipeline(opts: PipelineOptions): IngestPipeline {
  const maxInflight = opts.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES;
  let inflightBytes = 0;
  const inflight = new Set<Promise<unknown>>();
  const listeners = new Set<StoredListener>();

  const tell = (
    firstIndex: number,
    stored: (AuditEvent | Uint8Array)[],
    entries: Uint8Array[],
    digests: (EventDigest | undefined)[],
  ): void => {
    const sizes = entries.map((e) => e.length);
    for (const l of listeners) {
      try {
        l(firstIndex, stored, sizes, digests);
      } catch {
        // A consumer's bug must not fail an ingest that is already durable.
      }
    }
  };

  async function ingestPrepared(batch: PreparedBatch): Promise<IngestResult> {
    const result: IngestResult = {
      received: batch.received,
      stored: 0,
      duplicates: 0,
      conflicts: 0,
      dropped: batch.dropped,
      quarantined: batch.rejected?.length ?? 0,
      storedBytes: 0,
    };
    if (batch.rejected !== undefined) result.rejected = batch.rejected.slice(0, MAX_REJECTED_LISTED);
    const entries: Uint8Array[] = [];
    const leaves: Uint8Array[] = [];
    const records: StoredRecord[] = [];
    const stored: (AuditEvent | Uint8Array)[] = [];
    const digests: (EventDigest | undefined)[] = [];
    const waits: Promise<void>[] = [];
    // Repeats inside this batch, which the deduper cannot see until `begin`.
    // An array, not a Set: nearly every key is seen once, and this runs for every event.
    const batchSeen = new Map<string, ContentHash[]>();

    // Everything from here to `begin` runs in one tick, so no other batch interleaves.
    for (const p of batch.events) {
      const { auditID, stage, hash } = p;
      const key = keyOf(auditID, stage);
      const seenInBatch = batchSeen.get(key.text);
      if (seenInBatch?.includes(hash)) {
        result.duplicates++;
        continue;
      }
      const verdict = opts.deduper.classify(key, hash);
      if (verdict.kind === "duplicate") {
        result.duplicates++;
        continue;
      }
      if (verdict.kind === "in-flight") {
        result.duplicates++;
        waits.push(verdict.durable);
        continue;
      }
      let bytes = p.bytes;
      let parsed = p.event;
      let leaf = p.leaf;
      if (verdict.conflict || seenInBatch !== undefined) {
        parsed = withConflictFlag(eventOf(p), hash);
        bytes = encodeEvent(parsed);
        leaf = hashLeaf(bytes);
        result.conflicts++;
      }
      if (seenInBatch === undefined) batchSeen.set(key.text, [hash]);
      else seenInBatch.push(hash);
      entries.push(bytes);
      // The dedupe hash is the leaf hash: the log need not hash the entry again.
      leaves.push(leaf);
      stored.push(parsed ?? bytes);
      // A conflict's flagged copy differs only in its annotations, which no digest holds.
      digests.push(p.digest);
      // The content hash of the event as received, also when the entry is the flagged copy.
      records.push({ key, hash, leaf: p.leaf });
      result.storedBytes += bytes.length;
    }
    result.stored = entries.length;
    // Refused items are recorded every time they come: nothing identifies a retry of them.
    for (const q of batch.quarantine ?? []) {
      entries.push(q.bytes);
      leaves.push(q.leaf);
      stored.push(q.bytes);
      result.storedBytes += q.bytes.length;
    }

    if (entries.length > 0) {
      if (inflightBytes + result.storedBytes > maxInflight && inflightBytes > 0) {
        throw new IngestBusyError(`ingest is behind: ${inflightBytes} bytes waiting to be made durable`);
      }
      inflightBytes += result.storedBytes;
      const sizeAtSubmit = opts.log.size();
      const appended = opts.log.append(entries, leaves);
      if (listeners.size > 0)
        appended.then(
          ({ firstIndex }) => tell(firstIndex, stored, entries, digests),
          () => undefined,
        );
      const durable = opts.deduper.begin(records, sizeAtSubmit, appended);
      inflight.add(durable);
      waits.push(
        durable.finally(() => {
          inflightBytes -= result.storedBytes;
          inflight.delete(durable);
        }),
      );
    }
    await Promise.all(waits);
    return result;
  }

  async function ingest(
    events: AuditEvent[],
    asSent: readonly (Uint8Array | undefined)[] = [],
  ): Promise<IngestResult> {
    return ingestPrepared(prepareEvents(events, asSent, opts.transform));
  }

  async function drain(): Promise<void> {
    while (inflight.size > 0) {
      await Promise.allSettled([...inflight]);
    }
  }

  return {
    ingest,
    ingestPrepared,
    drain,
    onStored(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
