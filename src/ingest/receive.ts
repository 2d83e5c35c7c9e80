// Turning a webhook body into events prepared for dedupe (parse, validate, normalise, the
// transform, the stored bytes and their hashes): the CPU-heavy half of ingest. A receive pool
// runs it on worker threads, so the thread that serves requests, dedupes and appends only
// reads bodies and hands them over; on one core it runs in the caller's thread.
import os from "node:os";
import { Worker } from "node:worker_threads";
import { digestEvent, type EventDigest } from "../audit/event-digest.js";
import { createIngestTransform, type IngestTransformOptions } from "../audit/ingest-transform.js";
import { spansBuffer, WorkerCalls } from "../worker/calls.js";
import { IngestError, type IngestErrorCode } from "./errors.js";
import { receiveEventList } from "./normalize.js";
import { prepareEvents, type EventTransform, type PreparedBatch, type PreparedEvent } from "./prepare.js";

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
  /** Worker threads; 0 prepares in the caller's thread. Default: one per core beyond the first. */
  threads?: number;
  /** The worker's module (tests start one that can be made to die); default receive-worker.js. */
  workerUrl?: URL;
}

/** Parses and prepares one body (what every receiver does, wherever it runs). */
export function receiveBody(body: Buffer, transform?: EventTransform): PreparedBatch {
  const { events, entries } = receiveEventList(body);
  return prepareEvents(events, entries, transform);
}

/** A prepared batch as it crosses from a worker: the stored bytes packed in one transferred buffer. */
export type PackedBatch =
  | {
      ok: true;
      received: number;
      dropped: number;
      auditIDs: string[];
      stages: string[];
      hashes: string[];
      /** The same hashes, 32 bytes each, for the log (see LogWriter.append). */
      leaves: Uint8Array;
      /** Event i's bytes are bytes[ends[i-1] ?? 0, ends[i]). */
      ends: Uint32Array;
      bytes: Uint8Array;
      /** Event i's digest, so the detector parses only the bytes a rule may care about. */
      digests: (EventDigest | undefined)[];
    }
  | { ok: false; code?: IngestErrorCode; message: string };

/**
 * Packs a batch to post: one buffer of bytes to transfer instead of a clone per event. That
 * buffer is the events' own when their bytes already lie end to end in one (entries stored as
 * sent, see entriesOfItems), so the batch must not be used after its buffers are transferred.
 */
export function packBatch(batch: PreparedBatch): PackedBatch & { ok: true } {
  const ends = new Uint32Array(batch.events.length);
  let total = 0;
  batch.events.forEach((e, i) => (ends[i] = total += e.bytes.length));
  const leaves = new Uint8Array(batch.events.length * 32);
  batch.events.forEach((e, i) => leaves.set(e.leaf, i * 32));
  return {
    ok: true,
    received: batch.received,
    dropped: batch.dropped,
    auditIDs: batch.events.map((e) => e.auditID),
    stages: batch.events.map((e) => e.stage),
    hashes: batch.events.map((e) => e.hash),
    leaves,
    ends,
    bytes: packedBytes(batch.events, total),
    // The events are still parsed here, in the worker; the receiving thread gets only bytes.
    digests: batch.events.map((e) => e.digest ?? (e.event && digestEvent(e.event))),
  };
}

/** The events' bytes end to end: the buffer they already fill exactly, in order, or a copy. */
function packedBytes(events: readonly PreparedEvent[], total: number): Uint8Array {
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
    if (packed.code !== undefined) throw new IngestError(packed.code, packed.message);
    throw new Error(`receive worker: ${packed.message}`);
  }
  const { ends, leaves } = packed;
  // Buffer views: the log's checks search them with memchr, without a wrapper per entry.
  const bytes = Buffer.from(packed.bytes.buffer, packed.bytes.byteOffset, packed.bytes.byteLength);
  return {
    received: packed.received,
    dropped: packed.dropped,
    events: packed.auditIDs.map((auditID, i) => ({
      auditID,
      stage: packed.stages[i]!,
      hash: packed.hashes[i]!,
      leaf: leaves.subarray(i * 32, i * 32 + 32),
      bytes: bytes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]),
      digest: packed.digests[i],
    })),
  };
}

/**
 * Worker threads load compiled JavaScript: run from the TypeScript sources (the unit tests),
 * there is no worker to start, and bodies are prepared in the caller's thread. The workers
 * themselves are tested through dist/ (test/receive-workers.test.ts) and every CLI test.
 */
const WORKER_URL = import.meta.url.endsWith(".js") ? new URL("./receive-worker.js", import.meta.url) : null;

export function startReceiver(opts: ReceiveOptions = {}): Receiver {
  const threads =
    WORKER_URL === null && !opts.workerUrl ? 0 : (opts.threads ?? os.availableParallelism() - 1);
  if (threads <= 0) {
    const transform = opts.transform ? createIngestTransform(opts.transform) : undefined;
    return {
      receive: async (body) => receiveBody(body, transform),
      close: async () => {},
    };
  }
  const url = opts.workerUrl ?? WORKER_URL!;
  const start = () =>
    new WorkerCalls<PackedBatch>(
      new Worker(url, { workerData: { transform: opts.transform } }),
      "receive worker",
    );
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
