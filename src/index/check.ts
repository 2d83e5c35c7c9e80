// SQLite's own integrity check of DATA/index.db (PRAGMA quick_check), run in a worker thread on
// its own read-only connection: it reads the whole file, which takes seconds at millions of
// rows, and the server's event loop must go on answering meanwhile (check-worker.ts).
import { firstMessage, workerModule } from "../worker/start.js";
import { IndexError } from "./errors.js";

const WORKER = workerModule(import.meta.url, "check-worker");

/**
 * Resolves with what is wrong with the index file (quick_check's first finding, or the error
 * SQLite opened it with), or undefined when it passes or is missing.
 */
export async function checkIntegrity(file: string): Promise<string | undefined> {
  const m = await firstMessage<{ result?: string; error?: { code?: string; message: string } }>(
    WORKER,
    { file },
    { unref: true },
  );
  if (m.error === undefined) return m.result === "ok" ? undefined : m.result?.split("\n")[0];
  if (m.error.code === "SQLITE_CORRUPT" || m.error.code === "SQLITE_NOTADB")
    return `${m.error.code}: ${m.error.message}`;
  if (m.error.code === "SQLITE_CANTOPEN") return undefined; // deleted meanwhile: nothing to check
  throw new IndexError("corrupt", `index integrity check: ${m.error.message}`);
}
