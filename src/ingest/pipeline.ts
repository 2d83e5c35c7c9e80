// The one path every audit event takes into the log, shared by the webhook and `import`:
// normalised events → optional policy/redaction transform → dedupe → append → resolve when durable.
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../audit/types.js";
import type { LogReader, LogWriter } from "../store/types.js";
import { conflictAnnotationValue, contentHash, keyOf, type DedupeRecord, type Deduper } from "./dedupe.js";
import { tooDeepAsBadInput } from "./errors.js";
import { encodeEvent } from "./normalize.js";

/** Policy + redaction, applied after normalisation; returning null drops the event (level None). */
export type EventTransform = (event: AuditEvent) => AuditEvent | null | undefined;

export interface IngestResult {
  received: number;
  stored: number;
  /** Identical repeats dropped. */
  duplicates: number;
  /** Stored with the duplicate-conflict annotation: same (auditID, stage), different content. */
  conflicts: number;
  /** Dropped by the ingest policy. */
  dropped: number;
  storedBytes: number;
}

/** Too many events in flight: the caller should answer 429 so the sender backs off and retries. */
export class IngestBusyError extends Error {
  readonly code = "busy";
  constructor(message: string) {
    super(message);
    this.name = "IngestBusyError";
  }
}

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
  /** Resolves when nothing is in flight any more (for graceful shutdown). */
  drain(): Promise<void>;
  /**
   * Tells `listener` about every batch once it is durable: `events[i]` is the entry at log
   * index `firstIndex + i`, parsed, and `sizes[i]` its length in bytes. Lets consumers that
   * follow the log (the detector) use the parsed events instead of reading and parsing the
   * entries again; the log stays the source of truth for anything they miss. Returns an
   * unsubscribe function.
   */
  onStored(listener: StoredListener): () => void;
}

export type StoredListener = (
  firstIndex: number,
  events: readonly AuditEvent[],
  sizes: readonly number[],
) => void;

const DEFAULT_MAX_INFLIGHT_BYTES = 256 * 1024 * 1024;

/** Only kubetrail may set the conflict flag: one arriving with the event would poison a dedupe rebuild. */
function withoutForgedFlag(event: AuditEvent): AuditEvent {
  if (event.annotations === undefined || !Object.hasOwn(event.annotations, KUBETRAIL_ANNOTATIONS.conflict))
    return event;
  const { [KUBETRAIL_ANNOTATIONS.conflict]: _forged, ...annotations } = event.annotations;
  return { ...event, annotations };
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

  const tell = (firstIndex: number, events: AuditEvent[], entries: Uint8Array[]): void => {
    const sizes = entries.map((e) => e.length);
    for (const l of listeners) {
      try {
        l(firstIndex, events, sizes);
      } catch {
        // A consumer's bug must not fail an ingest that is already durable.
      }
    }
  };

  async function ingest(
    events: AuditEvent[],
    asSent: readonly (Uint8Array | undefined)[] = [],
  ): Promise<IngestResult> {
    const result: IngestResult = {
      received: events.length,
      stored: 0,
      duplicates: 0,
      conflicts: 0,
      dropped: 0,
      storedBytes: 0,
    };
    const entries: Uint8Array[] = [];
    const records: DedupeRecord[] = [];
    const stored: AuditEvent[] = [];
    const waits: Promise<void>[] = [];
    // Repeats inside this batch, which the deduper cannot see until `begin`.
    const batchSeen = new Map<string, Set<string>>();

    // Everything from here to `begin` runs in one tick, so no other batch interleaves.
    for (const [i, raw] of events.entries()) {
      let event: AuditEvent;
      let bytes: Uint8Array;
      try {
        const transformed = opts.transform ? opts.transform(raw) : raw;
        if (transformed === undefined || transformed === null) {
          result.dropped++;
          continue;
        }
        event = withoutForgedFlag(transformed);
        bytes = (event === raw ? asSent[i] : undefined) ?? encodeEvent(event);
      } catch (err) {
        throw tooDeepAsBadInput(err, `event ${i} (auditID ${raw.auditID})`);
      }
      const hash = contentHash(bytes);
      const key = keyOf(event.auditID, event.stage);
      const seenInBatch = batchSeen.get(key);
      if (seenInBatch?.has(hash)) {
        result.duplicates++;
        continue;
      }
      const verdict = opts.deduper.classify(event.auditID, event.stage, hash);
      if (verdict.kind === "duplicate") {
        result.duplicates++;
        continue;
      }
      if (verdict.kind === "in-flight") {
        result.duplicates++;
        waits.push(verdict.durable);
        continue;
      }
      if (verdict.conflict || seenInBatch !== undefined) {
        event = withConflictFlag(event, hash);
        bytes = encodeEvent(event);
        result.conflicts++;
      }
      if (seenInBatch === undefined) batchSeen.set(key, new Set([hash]));
      else seenInBatch.add(hash);
      entries.push(bytes);
      stored.push(event);
      records.push({ auditID: event.auditID, stage: event.stage, hash });
      result.storedBytes += bytes.length;
    }

    if (entries.length > 0) {
      if (inflightBytes + result.storedBytes > maxInflight && inflightBytes > 0) {
        throw new IngestBusyError(`ingest is behind: ${inflightBytes} bytes waiting to be made durable`);
      }
      inflightBytes += result.storedBytes;
      const sizeAtSubmit = opts.log.size();
      const appended = opts.log.append(entries);
      if (listeners.size > 0)
        appended.then(
          ({ firstIndex }) => tell(firstIndex, stored, entries),
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
      result.stored = entries.length;
    }
    await Promise.all(waits);
    return result;
  }

  async function drain(): Promise<void> {
    while (inflight.size > 0) {
      await Promise.allSettled([...inflight]);
    }
  }

  return {
    ingest,
    drain,
    onStored(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
