// Feeds the index from the log: only integrated entries (covered by a signed checkpoint), so
// every indexed row can be given an inclusion proof. Position and rows commit together.
import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { readHashesChecked, storedHashIndex } from "../tlog/index.js";
import { followLogWith, type Follower } from "../store/follow.js";
import type { AuditLog, LogEntry, LogReader } from "../store/types.js";
import {
  INDEX_FILE,
  isCorruption,
  openIndex,
  type DroppedRows,
  type OpenIndexOptions,
  type QueryIndex,
} from "./db.js";
import { checkIntegrity } from "./check.js";
import { IndexError } from "./errors.js";
import type { IndexRow } from "./row.js";
import { rowBatch, rowsOfBatch, type IndexableEntry } from "./row-batch.js";
import { LIVE_INDEX_BATCH, startWorkerWriter, writerInThread, type IndexWriter } from "./index-writer.js";
import type { Worker } from "node:worker_threads";
import { StoredEntries } from "../detect/feed.js";
import type { IngestPipeline, StoredListener } from "../ingest/pipeline.js";
import { startWalCheckpointer, type WalCheckpointer } from "./wal-checkpointer.js";

/** Planner statistics are refreshed after this many newly indexed entries. */
const OPTIMIZE_EVERY = 250_000;

/** Entries per transaction: large enough to amortise the commit, small enough to stay under a second. */
export const INDEX_BATCH = 16384;
/**
 * Entries per transaction while serving once the index is this far behind the log, written in
 * the server's thread: each commit writes every page it dirtied, so larger batches index about
 * a third faster, at the price of longer pauses for the requests waiting behind them. Catching
 * up comes first then.
 */
const BEHIND_INDEX_BATCH = 1024;
const BEHIND = 4 * BEHIND_INDEX_BATCH;
/**
 * Entries per batch handed to the writer worker, one transaction each: they hold up no request
 * of the server, so they are sized for the commit's cost alone. At most two batches are in
 * flight (one written, the next waiting): all the memory the hand-over holds.
 */
const WRITE_BATCH = 4096;
/** Entries per delivery from the follower while a worker writes (several batches). */
const WORKER_DELIVERY = 4 * WRITE_BATCH;
/** Writer workers started again after one died, before the indexer writes in its own thread. */
const WORKER_RESTARTS = 3;
/**
 * Rows deleted per call to the writer when retention drops rows: indexing waits behind one
 * such call at most (a thousand rows take tens of milliseconds, each touching every index).
 */
const DROP_STEP = { worker: 4096, thread: 512 };

/**
 * What the indexer holds of ingest's entries until a checkpoint covers them: twice the
 * detector's count, as it holds only the slim digest of an event with bodies (holdSlim), in
 * the same bytes; past either bound, entries are read from the log, which costs more.
 */
const HELD_CAPACITY = { entries: 131_072, bytes: 64 * 1024 * 1024 };
const NO_BYTES = new Uint8Array(0);

/**
 * Ingest's listener for the indexer's held entries: a receive worker's entry whose digest has
 * the event without its bodies (all a row needs) is held as that digest alone, its bytes let
 * go, so the same bytes hold more entries while the index is behind (the row's `length`, which
 * the index does not store, is then 0).
 */
function holdSlim(held: StoredEntries): StoredListener {
  return (first, stored, sizes, digests) => {
    const entries = stored.slice();
    const heldSizes = sizes.slice();
    for (let i = 0; i < entries.length; i++) {
      const slim = digests[i]?.withoutBodies;
      if (slim === undefined || !(entries[i] instanceof Uint8Array)) continue;
      entries[i] = NO_BYTES;
      heldSizes[i] = slim.length;
    }
    held.add(first, entries, heldSizes, digests);
  };
}

export { LiveStep } from "./index-writer.js";
export type { IndexableEntry } from "./row-batch.js";

/**
 * Opens DATA/index.db for this log: rebuilt when missing, corrupt, outdated, built for another
 * origin, or ahead of the log (which means it was built from a different log).
 */
export function openIndexForLog(
  stateDir: string,
  log: LogReader,
  opts: Omit<OpenIndexOptions, "origin"> = {},
): { index: QueryIndex; rebuilt?: string } {
  const opened = openIndex(stateDir, { ...opts, origin: log.origin });
  const size = log.latestCheckpoint().size;
  if (opened.index.position() > size) {
    const position = opened.index.position();
    opened.index.close();
    return {
      ...openIndex(stateDir, { origin: log.origin, rebuild: true }),
      rebuilt: `index covers ${position} entries but the log has ${size}`,
    };
  }
  return opened;
}

/**
 * Index rows for a run of consecutive integrated log entries. Their leaf hashes are read from
 * the log's level-0 tiles, where integration put them, instead of hashing every entry again
 * (a fifth of indexing's parse-and-hash time); a row whose bytes do not match is caught when
 * it is read back (resolveEntries). An entry whose bytes are gone (pruned, erased) gets a row
 * holding its place and leaf hash, so a rebuild runs on a log whose old bundles are gone.
 */
export async function rowsOf(
  log: Pick<LogReader, "hashReader">,
  entries: readonly IndexableEntry[],
  /** Told the seconds spent making the rows (not waiting for the tiles). */
  onBusy?: (seconds: number) => void,
): Promise<IndexRow[]> {
  const leaves = await readHashesChecked(
    log.hashReader(),
    entries.map((e) => storedHashIndex(0, e.index)),
  );
  const started = process.hrtime.bigint();
  const rows = rowsOfBatch(rowBatch(entries, leaves));
  onBusy?.(Number(process.hrtime.bigint() - started) / 1e9);
  return rows;
}

export interface CatchUpOptions {
  onProgress?: (indexed: number, total: number) => void;
  /** Entries per transaction: smaller beside a server, whose requests wait while one runs. */
  batch?: number;
}

/**
 * Indexes the integrated entries the index does not have yet, up to `upTo` (default: the
 * latest checkpoint's size), one transaction per `batch` entries. Safe to run in several
 * processes at once (see applyBatch). Returns the index position afterwards.
 */
export async function catchUp(
  index: QueryIndex,
  log: LogReader,
  upTo: number = log.latestCheckpoint().size,
  opts: CatchUpOptions = {},
): Promise<number> {
  const { onProgress, batch: size = INDEX_BATCH } = opts;
  await inBatches(log, index.position(), upTo, size, async (batch) => {
    const end = batch[batch.length - 1]!.index + 1;
    index.applyBatch(await rowsOf(log, batch), end);
    onProgress?.(end, upTo);
  });
  return index.position();
}

/** The log's entries [from, upTo), `size` at a time, each run handled before the next is read. */
async function inBatches(
  log: LogReader,
  from: number,
  upTo: number,
  size: number,
  handle: (batch: LogEntry[]) => Promise<void>,
): Promise<void> {
  let batch: LogEntry[] = [];
  for await (const entry of log.readEntries(from, upTo)) {
    batch.push(entry);
    if (batch.length >= size) {
      await handle(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await handle(batch);
}

/** What the server says about its index (on /readyz and in a 503). */
export interface IndexStatus {
  /** "rebuilding": refilled from the log after damage; queries wait for it. */
  state: "ready" | "rebuilding";
  /** Why it is being rebuilt. */
  reason?: string;
  /** Entries indexed so far. */
  indexed: number;
  /** While rebuilding: the entries it must cover before it answers again. */
  target?: number;
}

export interface Indexer {
  /** The indexer's own connection, for reads in the same process (better-sqlite3 is synchronous); replaced by a rebuild. */
  readonly index: QueryIndex;
  /**
   * Runs a read on the index. While it is rebuilt this throws IndexError("rebuilding"); a read
   * that finds the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB) starts a rebuild and throws it too.
   */
  read<T>(query: (index: QueryIndex) => T): T;
  status(): IndexStatus;
  /** Number of log entries indexed so far. */
  position(): number;
  /** How far behind the log's latest checkpoint the index is (entries and seconds). */
  lag(): IndexLag;
  /**
   * How far behind what ingest acknowledged the index is: entries stored and not indexed yet,
   * and how long ago the oldest of them was stored. This includes the wait for the checkpoint
   * that covers them, so it grows as soon as ingest outruns the index, before integration hands
   * the entries over (under load, in chunks of many thousands). Not the time the log waited for
   * cosigners meanwhile: that is no work of this process, and a hung witness must not read as
   * an index falling behind (which --index-max-lag would answer by holding ingest). Never less
   * than lag().
   */
  backlog(): IndexLag;
  /**
   * Since start: entries indexed as ingest held them (memory) or read again from the log, and
   * the seconds spent turning entries into rows and writing them (what indexing costs on its own).
   */
  sources(): { fromMemory: number; fromLog: number; busySeconds: number };
  /** Resolves once every entry covered by the checkpoint at call time is indexed. */
  caughtUp(): Promise<void>;
  /** Deletes the index and refills it from the log, in the background; resolves once started. */
  rebuild(reason: string): Promise<void>;
  /**
   * Deletes the rows of entries retention removed, through the index's one writer (a second
   * writer on the file would starve the feeder, or be starved, in SQLite's busy waits), in
   * steps that indexing goes on between. Thinned entries not indexed yet (a rebuild behind
   * them) are dropped once indexed. Returns the rows deleted now.
   */
  dropRows(rows: DroppedRows): Promise<number>;
  /**
   * Tells `listener` about each step of rows dropRows deleted, once deleted (readers holding
   * rows forget them instead of reading every row again); returns the unsubscribe.
   */
  onDropped(listener: (rows: DroppedRows) => void): () => void;
  stop(): Promise<void>;
}

export interface IndexerOptions {
  /** Called when indexing a batch fails (it is retried); never given secrets. */
  onError?: (err: unknown) => void;
  /** Called when the index is rebuilt (on start or later), with the reason. */
  onRebuild?: (reason: string) => void;
  /** Run SQLite's integrity check on start, in a worker thread (default true). */
  checkOnStart?: boolean;
  /**
   * Ingest's hook (IngestPipeline.onStored): entries are then indexed from the events ingest
   * parsed, held until a checkpoint covers them, instead of being read and parsed again.
   */
  pipeline?: Pick<IngestPipeline, "onStored">;
  /**
   * Where rows are made and written: "worker" (default), a thread owning a write connection, off
   * the event loop that answers requests; or "thread", this one, in short transactions.
   */
  writeIn?: "worker" | "thread";
  /** Told each writer worker once started (diagnostics; tests stop it as a crash would). */
  onWriterStarted?: (worker: Worker) => void;
}

/** How far the index is behind the log's latest checkpoint. */
export interface IndexLag {
  /** Integrated entries not indexed yet. */
  entries: number;
  /** How long the oldest of them has been integrated (0 when none is waiting). */
  seconds: number;
}

/**
 * When each log size was first seen (a checkpoint's, or what ingest stored), oldest first, so
 * the lag in seconds is the age of the oldest of those entries not yet indexed. Bounded: past
 * `MAX`, the second-oldest mark is dropped, which only makes later entries look older than they
 * are, never younger.
 */
class SizeMarks {
  private static readonly MAX = 4096;
  private readonly marks: { size: number; at: number }[] = [];

  constructor(private readonly clock: () => number = Date.now) {}

  seen(size: number, at = this.clock()): void {
    const last = this.marks[this.marks.length - 1];
    if (last !== undefined && last.size >= size) return;
    this.marks.push({ size, at });
    if (this.marks.length > SizeMarks.MAX) this.marks.splice(1, 1);
  }

  lag(indexed: number, now = this.clock()): IndexLag {
    while (this.marks.length > 0 && this.marks[0]!.size <= indexed) this.marks.shift();
    const oldest = this.marks[0];
    const size = this.marks[this.marks.length - 1]?.size ?? indexed;
    return { entries: size - indexed, seconds: oldest === undefined ? 0 : (now - oldest.at) / 1000 };
  }
}

/** A damaged index: SQLite's own verdicts, or a meta row that vanished. */
function isDamage(err: unknown): boolean {
  return isCorruption(err) || (err instanceof IndexError && err.code === "corrupt");
}

/** Removes the index and its WAL; it is derived, and the caller refills it. */
function removeIndexFiles(stateDir: string): void {
  const file = join(stateDir, INDEX_FILE);
  // Main file last: nobody creates a fresh index (and its WAL) until the old one is gone.
  for (const suffix of ["-wal", "-shm", "-journal", ""]) rmSync(file + suffix, { force: true });
}

/** Opens the index for the log; a file SQLite refuses in any way is replaced by an empty one. */
function openOrReplace(stateDir: string, log: LogReader): { index: QueryIndex; rebuilt?: string } {
  try {
    return openIndexForLog(stateDir, log);
  } catch (err) {
    if (!(err instanceof Database.SqliteError) && !isDamage(err)) throw err;
    removeIndexFiles(stateDir);
    return { ...openIndexForLog(stateDir, log), rebuilt: `unreadable (${(err as Error).message})` };
  }
}

/**
 * Keeps DATA/index.db up to date with `log`: catches up on start, then indexes each new
 * checkpoint's entries as it is signed, so the index lags the log by about one integration
 * interval. A missing, unreadable or damaged index — found on opening, by SQLite's
 * quick_check run in a worker thread on start, or by a failed query or write later — is
 * deleted and refilled from the log in the background while the log goes on taking events;
 * meanwhile reads throw IndexError("rebuilding").
 */
export function startIndexer(log: AuditLog, stateDir: string, opts: IndexerOptions = {}): Indexer {
  let index: QueryIndex;
  let writer: IndexWriter;
  let follower: Follower;
  let status: IndexStatus = { state: "ready", indexed: 0 };
  let rebuilding: Promise<void> | undefined;
  let stopped = false;
  let sinceOptimize = 0;
  let busySeconds = 0;
  // Set when the writer worker died: the next batch goes to a new one (or to this thread).
  let writerDied: Error | undefined;
  let restarts = 0;
  let inThread = opts.writeIn === "thread";
  // Thinned entries that were not indexed yet when their rows were dropped.
  const pendingDrops: number[] = [];
  const dropListeners = new Set<(rows: DroppedRows) => void>();
  // Entries ingest stored, held until a checkpoint covers them; the rest are read from the log.
  const held = new StoredEntries(HELD_CAPACITY);
  const holdStored = holdSlim(held);
  // Its clock stops while the log waits for cosigners (see backlog()).
  const storedMarks = opts.pipeline ? new SizeMarks(() => Date.now() - log.cosignerWaitMs()) : null;
  const unsubscribe = opts.pipeline?.onStored((first, stored, sizes, digests) => {
    storedMarks?.seen(first + stored.length);
    holdStored(first, stored, sizes, digests);
  });
  const marks = new SizeMarks();
  marks.seen(log.latestCheckpoint().size);
  const unwatch = log.onIntegrated((cp) => marks.seen(cp.size));

  // Over an empty log there is nothing to refill: a new index is simply ready.
  const markRebuilding = (reason: string): void => {
    const target = log.latestCheckpoint().size;
    if (target === 0) return;
    status = { state: "rebuilding", reason, indexed: 0, target };
    opts.onRebuild?.(reason);
  };

  /** A writer for the index just opened: a worker thread, unless they kept dying or were not wanted. */
  const startWriter = (): IndexWriter => {
    writerDied = undefined;
    if (inThread) return writerInThread(index, BEHIND_INDEX_BATCH);
    const started = startWorkerWriter(stateDir, {
      checkpointsItself: checkpointer === undefined,
      onDied: (err) => {
        // Reported at once, replaced when the next batch is due (its write failed and is retried).
        if (writer !== started || stopped) return;
        writerDied = err;
        opts.onError?.(err);
      },
      ...(opts.onWriterStarted ? { onStarted: opts.onWriterStarted } : {}),
    });
    return started;
  };

  const liveWriter = async (): Promise<IndexWriter> => {
    if (writerDied === undefined) return writer;
    const died = writerDied;
    if (++restarts > WORKER_RESTARTS) {
      inThread = true;
      opts.onError?.(
        new IndexError(
          "writer",
          `the index writer worker died ${restarts} times; writing in this thread from now on`,
          undefined,
          {
            cause: died,
          },
        ),
      );
    }
    await writer.close().catch(() => undefined);
    writer = startWriter();
    return writer;
  };

  /** Hands one run of consecutive entries to the writer; resolves once they are written. */
  const handOver = async (
    entries: readonly IndexableEntry[],
  ): Promise<{ written: Promise<void>; where: string }> => {
    const last = entries[entries.length - 1]!;
    const leaves = await readHashesChecked(
      log.hashReader(),
      entries.map((e) => storedHashIndex(0, e.index)),
    );
    const to = await liveWriter();
    const started = process.hrtime.bigint();
    const batch = rowBatch(entries, leaves);
    busySeconds += Number(process.hrtime.bigint() - started) / 1e9;
    const written = to.write(batch, last.index + 1).then((done) => {
      busySeconds += done.busySeconds;
      sinceOptimize += done.written;
      status.indexed = Math.max(status.indexed, last.index + 1);
    });
    return { written, where: to.where };
  };

  /**
   * Writes consecutive entries, WRITE_BATCH per transaction; their rows and the position after
   * them commit together. A worker writes one batch while the next is packed and posted, so it
   * does not wait for this thread's turn between batches. When a batch fails, the one after it
   * (refused for the gap it would leave) is not the error: the failed one is, and the follower
   * delivers the range again.
   */
  const write = async (entries: readonly IndexableEntry[]): Promise<void> => {
    let previous: Promise<void> | undefined;
    for (let at = 0; at < entries.length; at += WRITE_BATCH) {
      const { written, where } = await handOver(entries.slice(at, at + WRITE_BATCH));
      written.catch(() => undefined);
      await previous;
      previous = written;
      // In this thread, transactions of two batches would interleave.
      if (where !== "worker") await written;
    }
    await previous;
  };

  /** Deletes `rows` in steps of DROP_STEP rows, one call to the writer each. */
  const dropInSteps = async (rows: DroppedRows): Promise<number> => {
    let deleted = 0;
    const step = (): number => DROP_STEP[inThread ? "thread" : "worker"];
    const drop = async (part: DroppedRows): Promise<void> => {
      deleted += await (await liveWriter()).drop(part);
      for (const listener of dropListeners) listener(part);
    };
    if ("indexes" in rows) {
      for (let at = 0; at < rows.indexes.length; at += step())
        await drop({ indexes: rows.indexes.slice(at, at + step()) });
      return deleted;
    }
    for (let lo = index.lowestRow() ?? rows.before; lo < rows.before;) {
      const to = Math.min(rows.before, lo + step());
      await drop({ before: to });
      lo = to;
    }
    return deleted;
  };

  /** The thinned entries dropped while not yet indexed, once they are. */
  const dropPending = async (): Promise<void> => {
    if (pendingDrops.length === 0 || pendingDrops[0]! >= status.indexed) return;
    let k = 0;
    while (k < pendingDrops.length && pendingDrops[k]! < status.indexed) k++;
    const due = pendingDrops.splice(0, k);
    await dropInSteps({ indexes: due });
  };

  const follow = (): Follower =>
    followLogWith<IndexableEntry>(log, (start, end) => held.read(log, start, end), {
      from: index.position(),
      // Far behind: large runs, written fastest. Otherwise small ones: entries not held are read
      // (and their bundles decompressed) on this thread, in one go per run, between requests.
      batchSize: () =>
        log.latestCheckpoint().size - status.indexed > BEHIND
          ? inThread
            ? BEHIND_INDEX_BATCH
            : WORKER_DELIVERY
          : LIVE_INDEX_BATCH,
      onEntries: async (entries) => {
        const first = entries[0];
        const last = entries[entries.length - 1];
        if (first === undefined || last === undefined) return;
        try {
          // `kubetrail reindex` beside a running server empties the index: refill up to here first.
          const position = index.position();
          if (position < first.index)
            await inBatches(log, position, first.index, inThread ? LIVE_INDEX_BATCH : WORKER_DELIVERY, write);
          await write(entries);
        } catch (err) {
          // Not from inside the follower, which a rebuild stops and waits for.
          if (isDamage(err)) setTimeout(() => void rebuild(`writing failed: ${(err as Error).message}`), 0);
          throw err;
        }
        status.indexed = last.index + 1;
        if (status.state === "rebuilding" && status.indexed >= (status.target ?? 0)) {
          status = { state: "ready", indexed: status.indexed };
        }
        await dropPending();
        if (sinceOptimize >= OPTIMIZE_EVERY) {
          await writer.optimize();
          sinceOptimize = 0;
        }
      },
      ...(opts.onError ? { onError: opts.onError } : {}),
    });

  const rebuild = (reason: string): Promise<void> => {
    if (stopped) return Promise.resolve();
    rebuilding ??= (async () => {
      markRebuilding(reason);
      await follower.stop();
      // Its connection goes before the files do, so it never writes into a deleted file.
      await writer.close().catch(() => undefined);
      try {
        index.close();
      } catch {
        // a damaged file may not even close cleanly; it is deleted next
      }
      removeIndexFiles(stateDir);
      index = openIndexForLog(stateDir, log).index;
      index.checkpointsItself(checkpointer === undefined);
      writer = startWriter();
      follower = follow();
    })().finally(() => (rebuilding = undefined));
    return rebuilding;
  };

  const opened = openOrReplace(stateDir, log);
  index = opened.index;
  let checkpointer: WalCheckpointer | undefined = startWalCheckpointer(join(stateDir, INDEX_FILE), {
    onStopped: (err) => {
      // Without the worker, the writing connection checkpoints for itself again.
      checkpointer = undefined;
      opts.onError?.(err);
      if (!stopped) void writer.checkpointsItself(true).catch((e: unknown) => opts.onError?.(e));
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  index.checkpointsItself(false);
  status.indexed = index.position();
  if (opened.rebuilt !== undefined) markRebuilding(opened.rebuilt);
  writer = startWriter();
  follower = follow();
  if (opts.checkOnStart !== false && opened.rebuilt === undefined) {
    void checkIntegrity(join(stateDir, INDEX_FILE)).then(
      (problem) => {
        if (problem !== undefined && !stopped) void rebuild(`quick_check: ${problem}`);
      },
      (err: unknown) => opts.onError?.(err),
    );
  }

  const unavailable = (): IndexError =>
    new IndexError(
      "rebuilding",
      `the query index is being rebuilt from the log (${status.reason ?? "damaged"}): ` +
        `${status.indexed} of ${status.target ?? "?"} entries so far; retry later`,
    );

  return {
    get index() {
      return index;
    },
    read(query) {
      if (status.state === "rebuilding") throw unavailable();
      try {
        return query(index);
      } catch (err) {
        if (!isDamage(err)) throw err;
        void rebuild(`a query failed: ${(err as Error).message}`);
        throw unavailable();
      }
    },
    status: () => ({ ...status }),
    position: () => index.position(),
    lag: () => marks.lag(status.indexed),
    backlog: () => {
      // Records the log's writer appends (decisions, alerts) reach the index through checkpoints only.
      const integrated = marks.lag(status.indexed);
      const stored = storedMarks?.lag(status.indexed) ?? integrated;
      return {
        entries: Math.max(integrated.entries, stored.entries),
        seconds: Math.max(integrated.seconds, stored.seconds),
      };
    },
    sources: () => ({ fromMemory: held.stats.fromMemory, fromLog: held.stats.fromLog, busySeconds }),
    caughtUp: async () => {
      await rebuilding;
      await follower.caughtUp();
    },
    rebuild,
    async dropRows(rows) {
      await rebuilding;
      if ("before" in rows) return dropInSteps(rows);
      const now: number[] = [];
      // Runs hand entries over in log order: the pending ones stay sorted without sorting, as a rule.
      let sorted = true;
      for (const i of rows.indexes) {
        if (i < status.indexed) now.push(i);
        else {
          if (i < (pendingDrops[pendingDrops.length - 1] ?? -1)) sorted = false;
          pendingDrops.push(i);
        }
      }
      if (!sorted) pendingDrops.sort((a, b) => a - b);
      return dropInSteps({ indexes: now });
    },
    onDropped(listener) {
      dropListeners.add(listener);
      return () => dropListeners.delete(listener);
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      unwatch();
      await rebuilding;
      await follower.stop();
      await checkpointer?.stop();
      try {
        await writer.close({ optimize: writerDied === undefined });
      } finally {
        index.close();
      }
    },
  };
}
