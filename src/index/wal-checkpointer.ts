// Checkpoints of DATA/index.db's write-ahead log, off the event loop. SQLite runs them by default
// inside the commit that crosses 1,000 pages of log: on a better-sqlite3 connection, that is a
// copy of megabytes into the database file and an fsync on the server's event loop, every few
// seconds while the index follows a busy log, in the middle of answering webhooks. While
// serving, the indexer's connection turns that off and a worker thread checkpoints instead.
import { startWorker, workerModule } from "../worker/start.js";

const WORKER = workerModule(import.meta.url, "wal-checkpoint-worker");
/** How often the worker checkpoints: the log stays a few megabytes at the busiest. */
const CHECKPOINT_INTERVAL_MS = 1_000;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `file` in a worker. `onStopped` is told if the worker dies (the caller
 * then lets its connection checkpoint again), `onError` of checkpoints that failed.
 */
export function startWalCheckpointer(
  file: string,
  opts: { onStopped: (err: Error) => void; onError?: (err: Error) => void; intervalMs?: number },
): WalCheckpointer {
  const worker = startWorker(WORKER, { file, intervalMs: opts.intervalMs ?? CHECKPOINT_INTERVAL_MS });
  worker.unref();
  let stopping = false;
  worker.on("message", (m: { error?: string }) => {
    if (m.error !== undefined) opts.onError?.(new Error(`index checkpoint: ${m.error}`));
  });
  worker.on("error", (err) => {
    if (!stopping) opts.onStopped(err);
  });
  worker.on("exit", (code) => {
    if (!stopping) opts.onStopped(new Error(`index checkpoint worker stopped (exit code ${code})`));
  });
  return {
    async stop() {
      stopping = true;
      await worker.terminate();
    },
  };
}
