// Feeds the index from the log: only integrated entries (covered by a signed checkpoint), so
// every indexed row can be given an inclusion proof. Position and rows commit together.
import { statSync } from "node:fs";
import { setImmediate } from "node:timers/promises";
import { join } from "node:path";
import { readHashesChecked, storedHashIndex } from "../tlog/index.js";
import { followLog } from "../store/follow.js";
import type { AuditLog, LogEntry, LogReader } from "../store/types.js";
import { INDEX_FILE, openIndex, type OpenIndexOptions, type QueryIndex } from "./db.js";
import { goneRow, rowFromEntry, type IndexRow } from "./row.js";

/** Planner statistics are refreshed after this many newly indexed entries. */
const OPTIMIZE_EVERY = 250_000;

/** Entries per transaction: large enough to amortise the commit, small enough to stay under a second. */
export const INDEX_BATCH = 16384;
/**
 * Entries per transaction while serving: parsing and inserting run on the event loop that
 * also answers the webhook, and every acknowledgement due meanwhile waits behind a batch.
 * 256 entries take about 12 ms here; at 1024 (about 45 ms), acks at 5,000 events/s had a
 * p99 of 170–200 ms while the index kept up.
 */
const LIVE_INDEX_BATCH = 128;

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
  entries: readonly LogEntry[],
): Promise<IndexRow[]> {
  const leaves = await readHashesChecked(
    log.hashReader(),
    entries.map((e) => storedHashIndex(0, e.index)),
  );
  return entries.map((e, i) =>
    e.gone === undefined ? rowFromEntry(e.index, e.data, leaves[i]!) : goneRow(e.index, leaves[i]!, e.gone),
  );
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
  let batch: LogEntry[] = [];
  for await (const entry of log.readEntries(index.position(), upTo)) {
    batch.push(entry);
    if (batch.length >= size) {
      index.applyBatch(await rowsOf(log, batch), entry.index + 1);
      batch = [];
      onProgress?.(entry.index + 1, upTo);
    }
  }
  const last = batch[batch.length - 1];
  if (last !== undefined) {
    index.applyBatch(await rowsOf(log, batch), last.index + 1);
    onProgress?.(last.index + 1, upTo);
  }
  return index.position();
}

/**
 * SQLite removes the WAL when the last connection closes cleanly; one left behind means a crash
 * (or another process has the index open). Only then is the whole file checked, which takes
 * seconds at millions of rows.
 */
function uncleanShutdown(stateDir: string): boolean {
  try {
    return statSync(join(stateDir, `${INDEX_FILE}-wal`)).size > 0;
  } catch {
    return false;
  }
}

export interface Indexer {
  /** The indexer's own connection, for reads in the same process (better-sqlite3 is synchronous). */
  readonly index: QueryIndex;
  /** Number of log entries indexed so far. */
  position(): number;
  /** Resolves once every entry covered by the checkpoint at call time is indexed. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

export interface IndexerOptions {
  /** Called when indexing a batch fails (it is retried); never given secrets. */
  onError?: (err: unknown) => void;
  /** Called when the index file was rebuilt on start, with the reason. */
  onRebuild?: (reason: string) => void;
}

/**
 * Keeps DATA/index.db up to date with `log`: catches up on start (rebuilding a missing or
 * corrupt index from the log), then indexes each new checkpoint's entries as it is signed, so
 * the index lags the log by about one integration interval.
 */
export function startIndexer(log: AuditLog, stateDir: string, opts: IndexerOptions = {}): Indexer {
  const { index, rebuilt } = openIndexForLog(stateDir, log, { check: uncleanShutdown(stateDir) });
  if (rebuilt !== undefined) opts.onRebuild?.(rebuilt);
  let sinceOptimize = 0;
  const follower = followLog(log, {
    from: index.position(),
    batchSize: LIVE_INDEX_BATCH,
    onEntries: async (entries) => {
      const first = entries[0];
      const last = entries[entries.length - 1];
      if (first === undefined || last === undefined) return;
      // `kubetrail reindex` beside a running server empties the index: refill up to here first.
      if (index.position() < first.index) await catchUp(index, log, first.index, { batch: LIVE_INDEX_BATCH });
      const rows = await rowsOf(log, entries);
      // Requests that arrived while the rows were read go first.
      await setImmediate();
      sinceOptimize += index.applyBatch(rows, last.index + 1);
      if (sinceOptimize >= OPTIMIZE_EVERY) {
        index.optimize();
        sinceOptimize = 0;
      }
    },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  return {
    index,
    position: () => index.position(),
    caughtUp: () => follower.caughtUp(),
    async stop() {
      await follower.stop();
      index.optimize();
      index.close();
    },
  };
}
