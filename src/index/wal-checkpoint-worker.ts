// The worker thread of wal-checkpointer.ts: every `intervalMs`, a PASSIVE checkpoint of the
// index's write-ahead log on a connection of its own (opened each time, so a rebuilt file is
// the one checkpointed). PASSIVE never waits for the server's reads or writes.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { nameThisThread } from "../worker/thread-name.js";

const port = parentPort;
if (!port) throw new Error("wal-checkpoint-worker runs only as a worker thread");
nameThisThread("kt-index-ckpt");
const { file, intervalMs } = workerData as { file: string; intervalMs: number };

/** The last failure told, so a lasting one is told once, not every interval. */
let told: string | undefined;

function checkpoint(): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma("wal_checkpoint(PASSIVE)");
    told = undefined;
  } catch (err) {
    const e = err as { code?: string; message: string };
    const error = `${e.code ?? "error"}: ${e.message}`;
    // Being rebuilt (removed, not yet created): there is nothing to checkpoint now.
    if (e.code !== "SQLITE_CANTOPEN" && error !== told) port!.postMessage({ error });
    told = error;
  } finally {
    db?.close();
  }
}

setInterval(checkpoint, intervalMs);
