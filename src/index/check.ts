// SQLite's own integrity check of DATA/index.db (PRAGMA quick_check), run in a worker thread on
// its own read-only connection: it reads the whole file, which takes seconds at millions of
// rows, and the server's event loop must go on answering meanwhile.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
let db;
try {
  db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  const result = db.pragma("quick_check", { simple: true });
  parentPort.postMessage({ result: String(result) });
} catch (err) {
  parentPort.postMessage({ error: { code: err.code, message: err.message } });
} finally {
  if (db) db.close();
}
`;

const SQLITE_MODULE = createRequire(import.meta.url).resolve("better-sqlite3");

/**
 * Resolves with what is wrong with the index file (quick_check's first finding, or the error
 * SQLite opened it with), or undefined when it passes or is missing.
 */
export function checkIntegrity(file: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, module: SQLITE_MODULE } });
    worker.unref();
    worker.once("message", (m: { result?: string; error?: { code?: string; message: string } }) => {
      void worker.terminate();
      if (m.error === undefined) resolve(m.result === "ok" ? undefined : m.result?.split("\n")[0]);
      else if (m.error.code === "SQLITE_CORRUPT" || m.error.code === "SQLITE_NOTADB")
        resolve(`${m.error.code}: ${m.error.message}`);
      else if (m.error.code === "SQLITE_CANTOPEN")
        resolve(undefined); // deleted meanwhile: nothing to check
      else reject(new Error(`index integrity check: ${m.error.message}`));
    });
    worker.once("error", reject);
  });
}
