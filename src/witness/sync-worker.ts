// The sync thread (see sync-thread.ts): one fdatasync per message, answered in order.
import { fdatasyncSync } from "node:fs";
import { parentPort } from "node:worker_threads";
import type { SyncReply } from "./sync-thread.js";

const port = parentPort;
if (!port) throw new Error("sync-worker runs only as a worker thread");

port.on("message", ({ fd, id }: { fd: number; id: number }) => {
  let reply: SyncReply = { error: null };
  try {
    fdatasyncSync(fd);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { error: { message: e.message, code: String(e.code) } };
  }
  port.postMessage({ ...reply, id });
});
