// The worker thread of drop-pruned.ts: deletes the index rows below the pruned point, or of the
// entries a run thinned, or blanks the strings no row refers to, on its own connection, answered once.
import { parentPort, workerData } from "node:worker_threads";
import { runDropJob, type DropJob } from "./drop-pruned.js";

const port = parentPort;
if (!port) throw new Error("drop-pruned-worker runs only as a worker thread");
const { dataDir, ...job } = workerData as { dataDir: string } & DropJob;
try {
  port.postMessage({ deleted: runDropJob(dataDir, job as DropJob) });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
}
