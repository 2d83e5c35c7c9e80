// The index rows of entries retention removed go with them (QueryIndex.dropBelow, and
// dropEntries for the entries a run thinned from the bundles it kept): by the CLI
// after `retention run`, and by serve after each of its runs on a worker thread of its own, so
// its event loop never waits for the deletes. Safe beside serve's index writer (SQLite locking,
// short transactions) and idempotent: every run drops whatever is left below the pruned point.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { firstMessage, workerModule } from "../worker/start.js";
import { INDEX_FILE, openIndex, type QueryIndex } from "./db.js";
import { IndexError } from "./errors.js";

const WORKER = workerModule(import.meta.url, "drop-pruned-worker");

/** Runs `drop` on DATA/index.db, if there is one; a file replaced on opening (outdated, damaged) is empty, and its refill skips nothing. */
function dropFromIndex(dataDir: string, drop: (index: QueryIndex) => number): number {
  if (!existsSync(join(dataDir, INDEX_FILE))) return 0;
  const { index, rebuilt } = openIndex(dataDir);
  try {
    return rebuilt === undefined ? drop(index) : 0;
  } finally {
    index.close();
  }
}

/** Deletes the rows below `before` from DATA/index.db, if there is one; returns how many. */
export function dropPrunedRows(dataDir: string, before: number): number {
  return dropFromIndex(dataDir, (index) => index.dropBelow(before));
}

/** Deletes the rows of the entries `indexes` (thinned by retention) from DATA/index.db, if there is one. */
export function dropThinnedRows(dataDir: string, indexes: readonly number[]): number {
  return indexes.length === 0 ? 0 : dropFromIndex(dataDir, (index) => index.dropEntries(indexes));
}

/**
 * Blanks the dictionary strings no row of DATA/index.db refers to any more (forget-strings.ts),
 * if there is an index; returns how many. Once a retention run, after its rows went.
 */
export function forgetDroppedStrings(dataDir: string): number {
  return dropFromIndex(dataDir, (index) => {
    const f = index.forgetUnreferenced();
    return f.strings + f.groupSets;
  });
}

/** What a drop-pruned worker does: dropPrunedRows, dropThinnedRows or forgetDroppedStrings. */
export type DropJob = { before: number } | { indexes: readonly number[] } | { forget: true };

export function runDropJob(dataDir: string, job: DropJob): number {
  if ("before" in job) return dropPrunedRows(dataDir, job.before);
  if ("indexes" in job) return dropThinnedRows(dataDir, job.indexes);
  return forgetDroppedStrings(dataDir);
}

/** runDropJob on a worker thread: on a connection of its own, the event loop never waits for it. */
export async function runDropJobOffThread(dataDir: string, job: DropJob): Promise<number> {
  const m = await firstMessage<{ deleted?: number; error?: string }>(WORKER, { dataDir, ...job });
  if (m.error !== undefined) {
    const what = "forget" in job ? "blanking the strings of" : "dropping the index rows of";
    throw new IndexError("writer", `${what} entries retention removed: ${m.error}`);
  }
  return m.deleted ?? 0;
}
