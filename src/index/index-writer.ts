// Who writes the indexer's rows into DATA/index.db. While serving, a worker thread owning its own
// write connection: turning digests into rows and inserting them (most of indexing's work) then
// runs beside serve's event loop instead of on it, so neither the webhook's answers wait for
// the index nor the index for the webhook. The server's own connection only reads; SQLite's WAL
// lets its queries run while the worker writes. In this thread (the fallback when workers keep
// dying) the same writes run in short transactions between the requests.
import { setImmediate } from "node:timers/promises";
import type { Worker } from "node:worker_threads";
import { WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import type { DroppedRows, QueryIndex } from "./db.js";
import { IndexError, type IndexErrorCode } from "./errors.js";
import { rowsOfBatch, type RowBatch } from "./row-batch.js";

const WORKER = workerModule(import.meta.url, "index-writer-worker");
/** The writer thread's name (Linux), so `top -H`, `ps -L` and the webhook bench tell it apart. */
export const INDEX_WRITER_THREAD_NAME = "kt-index-write";

export interface WriteResult {
  /** Rows written (rows another process had written already are skipped). */
  written: number;
  /** Seconds spent making the rows and writing them. */
  busySeconds: number;
}

export interface IndexWriter {
  readonly where: "worker" | "thread";
  /** Writes the batch's rows and moves the position to `newPosition`, in one transaction or several. */
  write(batch: RowBatch, newPosition: number): Promise<WriteResult>;
  /** Deletes rows (QueryIndex.dropRows, its readers told by the caller); returns how many. */
  drop(rows: DroppedRows): Promise<number>;
  /** Refreshes the planner statistics. */
  optimize(): Promise<void>;
  /** Whether the write connection checkpoints the WAL in its commits (QueryIndex.checkpointsItself). */
  checkpointsItself(on: boolean): Promise<void>;
  /** Closes the write connection (a worker ends); `optimize` first when asked. */
  close(opts?: { optimize?: boolean }): Promise<void>;
}

/**
 * Entries per transaction when writing in this thread while serving: parsing and inserting run
 * on the event loop that also answers the webhook, and every acknowledgement due meanwhile
 * waits behind a batch. 256 entries take about 12 ms here; at 1024 (about 45 ms), acks at 5,000
 * events/s had a p99 of 170–200 ms while the index kept up.
 */
export const LIVE_INDEX_BATCH = 128;
/**
 * One transaction (parsing its entries and inserting their rows) in this thread is kept to
 * about this long: the same work per entry varies tenfold between small admission decisions and
 * audit events with bodies, and by the machine's load. A webhook answer due meanwhile waits at
 * most about this long behind the index, instead of behind a whole batch.
 */
const LIVE_STEP_MS = 2;
/** Fewest entries per live transaction, so a slow spell does not turn into a commit per entry. */
const MIN_LIVE_STEP = 8;

/**
 * How many entries the next live transaction takes: as many as the last ones took per
 * LIVE_STEP_MS (a moving average), between MIN_LIVE_STEP and LIVE_INDEX_BATCH.
 */
export class LiveStep {
  private msPerEntry = 0;

  get size(): number {
    if (this.msPerEntry === 0) return MIN_LIVE_STEP;
    return Math.max(MIN_LIVE_STEP, Math.min(LIVE_INDEX_BATCH, Math.floor(LIVE_STEP_MS / this.msPerEntry)));
  }

  /** Tells how long `entries` took. */
  took(ms: number, entries: number): void {
    const sample = ms / Math.max(1, entries);
    this.msPerEntry = this.msPerEntry === 0 ? sample : 0.7 * this.msPerEntry + 0.3 * sample;
  }
}

/** The entries [from, to) of a batch (positions within it). */
function sliceBatch(batch: RowBatch, from: number, to: number): RowBatch {
  return {
    first: batch.first + from,
    leaves: batch.leaves.subarray(from * 32, to * 32),
    items: batch.items.slice(from, to),
    lengths: batch.lengths.slice(from, to),
  };
}

/**
 * Writes on `index`'s connection in this thread. A batch of at least `wholeFrom` entries (the
 * index is far behind: catching up comes first) is one transaction; smaller ones go in
 * transactions of about LIVE_STEP_MS, yielding to waiting requests before each.
 */
export function writerInThread(index: QueryIndex, wholeFrom: number): IndexWriter {
  const step = new LiveStep();
  return {
    where: "thread",
    async write(batch, newPosition) {
      const count = batch.items.length;
      const size = count >= wholeFrom ? count : step.size;
      let written = 0;
      let busySeconds = 0;
      for (let at = 0; at < count;) {
        const to = Math.min(count, at + size);
        // Requests that arrived meanwhile go first.
        await setImmediate();
        const started = process.hrtime.bigint();
        const rows = rowsOfBatch(sliceBatch(batch, at, to));
        written += index.applyBatch(rows, to === count ? newPosition : batch.first + to);
        const busy = Number(process.hrtime.bigint() - started) / 1e9;
        busySeconds += busy;
        step.took(busy * 1000, to - at);
        at = to;
      }
      return { written, busySeconds };
    },
    async drop(rows) {
      await setImmediate();
      return index.dropRows(rows, { readersTold: true });
    },
    async optimize() {
      index.optimize();
    },
    async checkpointsItself(on) {
      index.checkpointsItself(on);
    },
    async close(opts) {
      if (opts?.optimize) index.optimize();
    },
  };
}

/** What the writer worker answers. */
export interface WriterReply {
  written?: number;
  /** Rows a drop deleted. */
  deleted?: number;
  busySeconds?: number;
  /** A failure, as much of it as crosses threads: an IndexError or a SQLite error keeps its code. */
  error?: { name: string; code?: string; message: string };
}

/** The worker's failure as the thread that asked sees it: damage stays recognisable (isCorruption, IndexError). */
function replyError(e: NonNullable<WriterReply["error"]>): Error {
  if (e.name === "IndexError") return new IndexError(e.code as IndexErrorCode, e.message);
  return Object.assign(new Error(e.message), { code: e.code });
}

export interface WorkerWriterOptions {
  /** Whether its connection checkpoints the WAL in its commits, or leaves that to another connection. */
  checkpointsItself: boolean;
  /** Told when the worker dies or is terminated by anything but close(): the caller replaces it. */
  onDied(err: Error): void;
  /** Told the thread once started (diagnostics, and tests that stop it as a crash would). */
  onStarted?(worker: Worker): void;
}

/** Starts a worker thread writing into DATA/index.db (`dataDir`), which must exist already. */
export function startWorkerWriter(dataDir: string, opts: WorkerWriterOptions): IndexWriter {
  const worker = startWorker(WORKER, { dataDir, checkpointsItself: opts.checkpointsItself });
  let closing = false;
  worker.on("exit", (code) => {
    if (!closing) opts.onDied(new IndexError("writer", `index writer worker stopped (exit code ${code})`));
  });
  const calls = new WorkerCalls<WriterReply>(worker, "index writer worker");
  opts.onStarted?.(worker);
  const call = async (message: object): Promise<WriterReply> => {
    const reply = await calls.call(message);
    if (reply.error !== undefined) throw replyError(reply.error);
    return reply;
  };
  return {
    where: "worker",
    async write(batch, newPosition) {
      const reply = await call({ op: "write", batch, newPosition });
      return { written: reply.written ?? 0, busySeconds: reply.busySeconds ?? 0 };
    },
    async drop(rows) {
      return (await call({ op: "drop", rows })).deleted ?? 0;
    },
    async optimize() {
      await call({ op: "optimize" });
    },
    async checkpointsItself(on) {
      await call({ op: "checkpoints", on });
    },
    async close(opts) {
      closing = true;
      try {
        if (!calls.stopped) await call({ op: "close", optimize: opts?.optimize === true });
      } finally {
        await calls.terminate();
      }
    },
  };
}
