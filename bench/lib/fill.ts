// Loading the same entries into each system before a read-side benchmark (not measured).
import path from "node:path";
import { openFsLog } from "../../src/store/fs/storage.js";
import { insertBatch, type PgServer, createChainTable } from "../baselines/postgres.js";
import type { Entries } from "./workload.js";

const FILL_BATCH = 1000;

/** Appends all entries to a new fs log under `dir` and waits for a checkpoint covering them. */
export async function fillFsLog(dir: string, entries: readonly Uint8Array[]): Promise<string> {
  return fillFsLogFrom(dir, entries);
}

/**
 * The same from any iterable, holding only a few batches at a time, so a log far larger than
 * memory (the 10M-event lifecycle run) can be written from a generator.
 */
export async function fillFsLogFrom(dir: string, entries: Iterable<Uint8Array>): Promise<string> {
  const dataDir = path.join(dir, "data");
  const log = await openFsLog(dataDir);
  const pending: Promise<unknown>[] = [];
  let batch: Uint8Array[] = [];
  let count = 0;
  for (const e of entries) {
    batch.push(e);
    count++;
    if (batch.length < FILL_BATCH) continue;
    pending.push(log.append(batch));
    batch = [];
    if (pending.length >= 8) await Promise.all(pending.splice(0));
  }
  if (batch.length > 0) pending.push(log.append(batch));
  await Promise.all(pending);
  await log.waitIntegrated(count);
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
