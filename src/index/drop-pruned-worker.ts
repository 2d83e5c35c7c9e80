// The worker thread of drop-pruned.ts: deletes the index rows below the pruned point on its own
// connection, answered once.
import { parentPort, workerData } from "node:worker_threads";
import { dropPrunedRows } from "./drop-pruned.js";

const port = parentPort;
if (!port) throw new Error("drop-pruned-worker runs only as a worker thread");
const { dataDir, before } = workerData as { dataDir: string; before: number };
try {
  port.postMessage({ deleted: dropPrunedRows(dataDir, before) });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
