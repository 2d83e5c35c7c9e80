// A receive worker thread (see receive.ts): prepares each body posted to it and posts back the
// packed batch, its bytes transferred.
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../worker/thread-name.js";
import { IngestBusyError, IngestError } from "./errors.js";
import {
  packBatch,
  RECEIVE_THREAD_NAME,
  receiveBody,
  workerContext,
  type PackedBatch,
  type ReceiveWorkerData,
} from "./receive.js";

const port = parentPort;
if (!port) throw new Error("receive-worker.ts runs only as a worker thread");
const ctx = workerContext(workerData as ReceiveWorkerData);
nameThisThread(RECEIVE_THREAD_NAME);

port.on("message", ({ id, body }: { id: number; body: Uint8Array }) => {
  let reply: PackedBatch;
  try {
    reply = packBatch(receiveBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength), ctx));
  } catch (err) {
    reply =
      err instanceof IngestError || err instanceof IngestBusyError
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, message: (err as Error).message };
  }
  port.postMessage(
    { ...reply, id },
    reply.ok ? [reply.bytes.buffer as ArrayBuffer, reply.leaves.buffer as ArrayBuffer] : [],
  );
});
