// Loading the same entries into each system before a read-side benchmark (not measured).
import path from "node:path";
import { openFsLog } from "../../src/store/fs/storage.js";
import { insertBatch, type PgServer, createChainTable } from "../baselines/postgres.js";
import type { Entries } from "./workload.js";

const FILL_BATCH = 1000;

/** Appends all entries to a new fs log under `dir` and waits for a checkpoint covering them. */
export async function fillFsLog(dir: string, entries: readonly Uint8Array[]): Promise<string> {
  const dataDir = path.join(dir, "data");
  const log = await openFsLog(dataDir);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < entries.length; i += FILL_BATCH) {
    pending.push(log.append(entries.slice(i, i + FILL_BATCH) as Uint8Array[]));
    if (pending.length >= 8) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  await log.waitIntegrated(entries.length);
  await log.close();
  return dataDir;
}

/** Creates the hash-chained table and inserts all entries in large batches. */
export async function fillChainTable(pg: PgServer, data: Entries): Promise<void> {
  const client = await pg.client();
  try {
    await createChainTable(client);
    for (let i = 0; i < data.lines.length; i += FILL_BATCH)
      await insertBatch(client, data.lines.slice(i, i + FILL_BATCH));
    await client.query("VACUUM ANALYZE audit_events");
  } finally {
    await client.end();
  }
}
