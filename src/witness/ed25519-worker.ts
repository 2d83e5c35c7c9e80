// An Ed25519 thread of the witness's pool (ed25519-pool.ts): it names itself, lowers its own
// priority, and answers each batch of jobs (ed25519-jobs.ts) in the order they came.
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../worker/thread-name.js";
import { answer, type Ed25519Batch, type Ed25519WorkerData, lowerThisThread } from "./ed25519-jobs.js";

const port = parentPort!;
nameThisThread("kt-ed25519");
lowerThisThread((workerData as Ed25519WorkerData).lower);
port.on("message", (batch: Ed25519Batch) => {
  const { reply, transfer } = answer(batch);
  port.postMessage(reply, transfer);
});
