// What a query command opens: the log as of its latest checkpoint and an index brought up
// to that checkpoint first, so answers are never behind what the log has signed.
import { catchUp, openIndexForLog } from "./indexer.js";
import type { QueryIndex } from "./db.js";
import { openLogSnapshot, type LogSnapshot } from "../store/log-snapshot.js";

export interface QuerySession {
  log: LogSnapshot;
  index: QueryIndex;
  /** Why the index file was recreated, if it was. */
  rebuilt?: string;
  close(): void;
}

export async function openQuerySession(
  dataDir: string,
  opts: { rebuild?: boolean; onProgress?: (indexed: number, total: number) => void } = {},
): Promise<QuerySession> {
  const log = await openLogSnapshot(dataDir);
  const { index, rebuilt } = openIndexForLog(dataDir, log, opts.rebuild ? { rebuild: true } : {});
  try {
    await catchUp(index, log, undefined, { onProgress: opts.onProgress });
  } catch (err) {
    index.close();
    throw err;
  }
  return { log, index, ...(rebuilt !== undefined ? { rebuilt } : {}), close: () => index.close() };
}
