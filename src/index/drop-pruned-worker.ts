// The worker thread of drop-pruned.ts: deletes the index rows below the pruned point, or of the
// entries a run thinned, on its own connection, answered once.
import { parentPort, workerData } from "node:worker_threads";
import { dropPrunedRows, dropThinnedRows } from "./drop-pruned.js";

const port = parentPort;
if (!port) throw new Error("drop-pruned-worker runs only as a worker thread");
const job = workerData as { dataDir: string } & ({ before: number } | { indexes: number[] });
try {
  port.postMessage({
    deleted:
      "before" in job ? dropPrunedRows(job.dataDir, job.before) : dropThinnedRows(job.dataDir, job.indexes),
  });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
