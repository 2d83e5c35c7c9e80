// Opening the log and index for a query command, telling the user when the index had to be rebuilt.
import { openQuerySession, type QuerySession } from "../../index/session.js";

export async function openCliSession(
  dataDir: string,
  opts: { rebuild?: boolean } = {},
): Promise<QuerySession> {
  const session = await openQuerySession(dataDir, opts);
  // A first run creates the index silently; anything else is worth a line on stderr.
  if (session.rebuilt !== undefined && session.rebuilt !== "missing" && session.rebuilt !== "requested") {
    process.stderr.write(`kubetrail: ${dataDir}/index.db was rebuilt from the log (${session.rebuilt})\n`);
  }
  return session;
}
