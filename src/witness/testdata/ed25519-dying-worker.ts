// The Ed25519 thread (ed25519-worker.ts) that ends itself, before answering, on a batch whose
// jobs hold the bytes "die-now": for the tests of a thread lost with jobs in flight.
import { parentPort } from "node:worker_threads";
import { answer, type Ed25519Batch } from "../ed25519-jobs.js";

const port = parentPort!;
port.on("message", (batch: Ed25519Batch) => {
  const { jobs } = batch;
  if (Buffer.from(jobs.buffer, jobs.byteOffset, jobs.byteLength).includes("die-now")) process.exit(7);
  const { reply, transfer } = answer(batch);
  port.postMessage(reply, transfer);
});
