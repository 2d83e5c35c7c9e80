// Opening the log and index for a query command, telling the user when the index had to be rebuilt.
import { openQuerySession, type QuerySession } from "../../index/session.js";
import { fsStorage } from "../../store/fs/storage.js";
import { progressBar } from "../progress.js";

export async function openCliSession(
  dataDir: string,
  opts: { rebuild?: boolean } = {},
): Promise<QuerySession> {
  // Catching up a large log (a first query, a reindex) takes minutes: show how far it is.
  const progress = progressBar("indexing", "entries");
  const session = await openQuerySession(fsStorage(dataDir), {
    ...opts,
    onProgress: (done, total) => progress.update(done, total),
  }).finally(() => progress.stop());
  // A first run creates the index silently; anything else is worth a line on stderr.
  if (session.rebuilt !== undefined && session.rebuilt !== "missing" && session.rebuilt !== "requested") {
    process.stderr.write(`kubetrail: ${dataDir}/index.db was rebuilt from the log (${session.rebuilt})\n`);
  }
  return session;
}
