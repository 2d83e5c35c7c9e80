// What a query command opens: the log as of its latest checkpoint and an index brought up
// to that checkpoint first, so answers are never behind what the log has signed.
import { catchUp, openIndexForLog } from "./indexer.js";
import type { QueryIndex } from "./db.js";
import { openSnapshot, type Storage } from "../store/storage.js";
import type { LogReader } from "../store/types.js";

export interface QuerySession {
  log: LogReader;
  index: QueryIndex;
  /** Why the index file was recreated, if it was. */
  rebuilt?: string;
  close(): void;
}

export async function openQuerySession(
  storage: Storage,
  opts: { rebuild?: boolean; onProgress?: (indexed: number, total: number) => void } = {},
): Promise<QuerySession> {
  const log = await openSnapshot(storage);
  const { index, rebuilt } = openIndexForLog(storage.stateDir, log, opts.rebuild ? { rebuild: true } : {});
  try {
    await catchUp(index, log, undefined, { onProgress: opts.onProgress });
  } catch (err) {
    index.close();
    throw err;
  }
  return { log, index, ...(rebuilt !== undefined ? { rebuilt } : {}), close: () => index.close() };
}
