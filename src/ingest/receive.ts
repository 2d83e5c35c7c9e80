// Turning a webhook body into events prepared for dedupe (parse, validate, normalise, the
// transform, the stored bytes and their hashes): the CPU-heavy half of ingest. A receive pool
// runs it on worker threads, so the thread that serves requests, dedupes and appends only
// reads bodies and hands them over; on one core it runs in the caller's thread.
import os from "node:os";
import {
  createIngestTransform,
  createItemRedactor,
  type IngestTransformOptions,
  type ItemRedactor,
} from "../audit/ingest-transform.js";
import { hashLeaf } from "../tlog/index.js";
import { digestEvent, type EventDigest } from "../audit/event-digest.js";
import { spansBuffer, WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import { IngestBusyError, IngestError, type IngestErrorCode } from "./errors.js";
import { MemoryBudget } from "./memory-budget.js";
import { DEFAULT_PARSE_LIMITS, receiveEventList, type ParseLimits, type RejectedItem } from "./normalize.js";
import { prepareEvents, type EventTransform, type PreparedBatch, type PreparedEvent } from "./prepare.js";
import { microTime, quarantineEntries, type RejectedSummary } from "./quarantine.js";

/** Turns a webhook body into a prepared batch; rejects with IngestError for bad input. */
export interface Receiver {
  /** `body`'s memory may be handed to a worker (it is then empty here): do not use it after. */
  receive(body: Buffer): Promise<PreparedBatch>;
  close(): Promise<void>;
}

/** How the workers rebuild the transform: options, not code, cross to a thread. */
export interface ReceiveOptions {
  /** Omitted: events are stored as normalised (the benchmark's plain writers). */
  transform?: IngestTransformOptions;
  /** Worker threads; 0 prepares in the caller's thread. Default: one per core beyond the first, at most 4. */
  threads?: number;
  /** The worker's module (tests start one that can be made to die); default receive-worker.js. */
  workerUrl?: URL;
  /** Items per EventList and the parse cost of one body; default DEFAULT_PARSE_LIMITS. */
  limits?: Pick<ParseLimits, "maxItems" | "maxParseBytes">;
  /** Memory shared with the bodies being read (see MemoryBudget); parsing reserves its cost in it. */
  budget?: MemoryBudget;
}

/** What a receiver needs in the thread that parses: built once per thread from ReceiveOptions. */
export interface ReceiveContext {
  transform?: EventTransform;
  /** Masks refused items for their quarantine entries; without it they are only counted. */
  items?: ItemRedactor;
  limits?: Pick<ParseLimits, "maxItems" | "maxParseBytes">;
  budget?: MemoryBudget;
}

export function receiveContext(
  opts: Pick<ReceiveOptions, "transform" | "limits" | "budget">,
): ReceiveContext {
  return {
    transform: opts.transform ? createIngestTransform(opts.transform) : undefined,
    items: opts.transform ? createItemRedactor(opts.transform) : undefined,
    limits: opts.limits,
    budget: opts.budget,
  };
}

/**
 * Parses and prepares one body (what every receiver does, wherever it runs). Items that are not
 * valid events are left out and recorded as QuarantinedItem entries (see quarantine.ts).
 */
export function receiveBody(body: Buffer, ctx: ReceiveContext = {}): PreparedBatch {
  const budget = ctx.budget;
  const limits: ParseLimits = {
    ...(ctx.limits ?? DEFAULT_PARSE_LIMITS),
    reserve:
      budget &&
      ((bytes) => {
        // The body itself is already counted (by the reader): alone, a request always proceeds.
        if (!budget.tryReserve(bytes, body.length))
          throw new IngestBusyError(
            `too many request bodies being parsed at once (${Math.ceil(budget.usedBytes / 2 ** 20)} MiB); retry later`,
          );
        return () => budget.release(bytes);
      }),
  };
  const received = receiveEventList(body, limits);
  const rejected: RejectedItem[] = [...(received.rejected ?? [])];
  const itemOf = (i: number): number => received.indexes?.[i] ?? i;
  const batch = prepareEvents(
    received.events,
    received.entries,
    ctx.transform,
    received.raws,
    (i, error) =>
      rejected.push({
        index: itemOf(i),
        error,
        bytes: received.raws?.[i]?.bytes ?? Buffer.from("null"),
        value: received.events[i],
      }),
    (i) => `items[${itemOf(i)}]`,
  );
  batch.received = received.items ?? received.events.length;
  if (rejected.length > 0) {
    rejected.sort((a, b) => a.index - b.index);
    const q = ctx.items
      ? quarantineEntries(rejected, ctx.items, microTime(Date.now()))
      : { entries: [], summaries: rejected.map(summaryOf) };
    batch.quarantine = q.entries.map((bytes) => ({ bytes, leaf: hashLeaf(bytes) }));
    batch.rejected = q.summaries;
  }
  return batch;
}

function summaryOf(r: RejectedItem): RejectedSummary {
  return { index: r.index, code: r.error.code, message: r.error.message };
}

/** What a receive worker names its thread (Linux's 15-character limit). */
export const RECEIVE_THREAD_NAME = "kt-receive";

/** A prepared batch as it crosses from a worker: the stored bytes packed in one transferred buffer. */
export type PackedBatch =
  | {
      ok: true;
      received: number;
      dropped: number;
      auditIDs: string[];
      stages: string[];
      hashes: string[];
      /** The same hashes, 32 bytes each, for the log (see LogWriter.append); then the quarantine entries'. */
      leaves: Uint8Array;
      /** Entry i's bytes are bytes[ends[i-1] ?? 0, ends[i]): the events', then the quarantine entries'. */
      ends: Uint32Array;
      bytes: Uint8Array;
      rejected?: RejectedSummary[];
      /** Event i's digest, so the detector parses only the bytes a rule may care about. */
      digests: (EventDigest | undefined)[];
    }
  | { ok: false; code?: IngestErrorCode | "busy"; message: string };

/**
 * Packs a batch to post: one buffer of bytes to transfer instead of a clone per event. That
 * buffer is the events' own when their bytes already lie end to end in one (entries stored as
 * sent, see entriesOfItems), so the batch must not be used after its buffers are transferred.
 */
export function packBatch(batch: PreparedBatch): PackedBatch & { ok: true } {
  const all = [...batch.events, ...(batch.quarantine ?? [])];
  const ends = new Uint32Array(all.length);
  let total = 0;
  all.forEach((e, i) => (ends[i] = total += e.bytes.length));
  const leaves = new Uint8Array(all.length * 32);
  all.forEach((e, i) => leaves.set(e.leaf, i * 32));
  return {
    ok: true,
    received: batch.received,
    dropped: batch.dropped,
    auditIDs: batch.events.map((e) => e.auditID),
    stages: batch.events.map((e) => e.stage),
    hashes: batch.events.map((e) => e.hash),
    leaves,
    ends,
    bytes: packedBytes(all, total),
    ...(batch.rejected === undefined ? {} : { rejected: batch.rejected }),
    // The events are still parsed here, in the worker; the receiving thread gets only bytes.
    digests: batch.events.map((e) => e.digest ?? (e.event && digestEvent(e.event))),
  };
}

/** The entries' bytes end to end: the buffer they already fill exactly, in order, or a copy. */
function packedBytes(events: readonly Pick<PreparedEvent, "bytes">[], total: number): Uint8Array {
  const buffer = events[0]?.bytes.buffer;
  let at = 0;
  for (const { bytes } of events) {
    if (bytes.buffer !== buffer || bytes.byteOffset !== at) break;
    at += bytes.length;
  }
  if (buffer !== undefined && at === total && total === buffer.byteLength) return new Uint8Array(buffer);
  const out = Buffer.allocUnsafeSlow(total);
  at = 0;
  for (const { bytes } of events) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** The batch a worker packed, its bytes as views into the one transferred buffer. */
export function unpackBatch(packed: PackedBatch): PreparedBatch {
  if (!packed.ok) {
    if (packed.code === "busy") throw new IngestBusyError(packed.message);
    if (packed.code !== undefined) throw new IngestError(packed.code, packed.message);
    throw new Error(`receive worker: ${packed.message}`);
  }
  const { ends, leaves } = packed;
  // Buffer views: the log's checks search them with memchr, without a wrapper per entry.
  const bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength);
  const leaf = (i: number) => leaves.subarray(i * 32, i * 32 + 32);
  const entry = (i: number) => bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]);
  const events = packed.auditIDs.length;
  const quarantine = Array.from({ length: ends.length - events }, (_, j) => ({
    bytes: entry(events + j),
    leaf: leaf(events + j),
  }));
  return {
    received: packed.received,
    dropped: packed.dropped,
    events: packed.auditIDs.map((auditID, i) => ({
      auditID,
      stage: packed.stages[i]!,
      hash: packed.hashes[i]!,
      leaf: leaf(i),
      bytes: entry(i),
      digest: packed.digests[i],
    })),
    ...(quarantine.length === 0 ? {} : { quarantine }),
    ...(packed.rejected === undefined ? {} : { rejected: packed.rejected }),
  };
}

const WORKER = workerModule(import.meta.url, "receive-worker");

/** What a receive worker is started with (see receive-worker.ts). */
export interface ReceiveWorkerData {
  transform?: IngestTransformOptions;
  limits?: Pick<ParseLimits, "maxItems" | "maxParseBytes">;
  budget?: { maxBytes: number; shared: SharedArrayBuffer };
}

/**
 * A worker's heap is bounded, so one that runs wild (a bug, an input the estimates missed)
 * dies alone (its request answers 503 and the worker is replaced) instead of taking the
 * process past its memory limit.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 384 };

/**
 * Workers beyond this many (on a machine with many cores) would add more to the memory every
 * worker holds (its heap, garbage not yet collected) than to the throughput, which other parts
 * of ingest bound by then; a pod's memory limit does not grow with the node's cores.
 */
const MAX_DEFAULT_WORKERS = 4;

/** ReceiveContext for a worker, from its workerData. */
export function workerContext(data: ReceiveWorkerData): ReceiveContext {
  const budget = data.budget && new MemoryBudget(data.budget.maxBytes, data.budget.shared);
  return receiveContext({ transform: data.transform, limits: data.limits, budget });
}

export function startReceiver(opts: ReceiveOptions = {}): Receiver {
  const threads = opts.threads ?? Math.min(os.availableParallelism() - 1, MAX_DEFAULT_WORKERS);
  if (threads <= 0) {
    const ctx = receiveContext(opts);
    return {
      receive: async (body) => receiveBody(body, ctx),
      close: async () => {},
    };
  }
  const module = opts.workerUrl ?? WORKER;
  const workerData: ReceiveWorkerData = {
    transform: opts.transform,
    limits: opts.limits,
    budget: opts.budget && { maxBytes: opts.budget.maxBytes, shared: opts.budget.shared },
  };
  const start = () =>
    new WorkerCalls<PackedBatch>(startWorker(module, workerData, WORKER_LIMITS), "receive worker");
  let workers = Array.from({ length: threads }, start);
  let closed = false;
  return {
    async receive(body) {
      if (closed) throw new Error("receive workers closed");
      // A worker that died (a bug, memory) is replaced; the request it held failed (503) and
      // the sender retries it.
      workers = workers.map((w) => (w.stopped ? start() : w));
      // The least busy worker; a body's buffer is handed over, not copied, when it owns it.
      const worker = workers.reduce((a, b) => (b.waiting < a.waiting ? b : a));
      const data = spansBuffer(body) ? body : Buffer.from(body);
      return unpackBatch(await worker.call({ body: data }, [data.buffer as ArrayBuffer]));
    },
    async close() {
      closed = true;
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
