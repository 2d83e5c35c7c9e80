// The worker thread of check.ts: PRAGMA quick_check of the index file on its own read-only
// connection, then the dictionary's ids (schema.ts), answered once.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { dictionaryProblem } from "./schema.js";

const port = parentPort;
if (!port) throw new Error("check-worker runs only as a worker thread");
const { file } = workerData as { file: string };
let db: Database.Database | undefined;
try {
  db = new Database(file, { readonly: true, fileMustExist: true });
  const result = String(db.pragma("quick_check", { simple: true }));
  port.postMessage({ result: result === "ok" ? (dictionaryProblem(db) ?? result) : result });
} catch (err) {
  const e = err as { code?: string; message: string };
  port.postMessage({ error: { code: e.code, message: e.message } });
} finally {
  db?.close();
}
