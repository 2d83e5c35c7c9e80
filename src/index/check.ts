// SQLite's own integrity check of DATA/index.db (PRAGMA quick_check), run in a worker thread on
// its own read-only connection: it reads the whole file, which takes seconds at millions of
// rows, and the server's event loop must go on answering meanwhile (check-worker.ts).
import { startWorker, workerModule } from "../worker/start.js";
import { IndexError } from "./errors.js";

const WORKER = workerModule(import.meta.url, "check-worker");

/**
 * Resolves with what is wrong with the index file (quick_check's first finding, or the error
 * SQLite opened it with), or undefined when it passes or is missing.
 */
export function checkIntegrity(file: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(WORKER, { file });
    worker.unref();
    worker.once("message", (m: { result?: string; error?: { code?: string; message: string } }) => {
      void worker.terminate();
      if (m.error === undefined) resolve(m.result === "ok" ? undefined : m.result?.split("\n")[0]);
      else if (m.error.code === "SQLITE_CORRUPT" || m.error.code === "SQLITE_NOTADB")
        resolve(`${m.error.code}: ${m.error.message}`);
      else if (m.error.code === "SQLITE_CANTOPEN")
        resolve(undefined); // deleted meanwhile: nothing to check
      else reject(new IndexError("corrupt", `index integrity check: ${m.error.message}`));
    });
    worker.once("error", reject);
  });
}
