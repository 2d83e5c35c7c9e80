// The sync thread's worker (see sync-thread.ts): one fdatasync per message, answered in order.
import { fdatasyncSync } from "node:fs";
import { parentPort } from "node:worker_threads";
import { nameThisThread } from "./thread-name.js";

export interface SyncRequest {
  id: number;
  fd: number;
}

export interface SyncReply {
  id: number;
  /** Set when a sync failed: the system's message and errno code (EIO, ENOSPC, EBADF…). */
  error?: { message: string; code?: string };
}

nameThisThread("kt-sync");
parentPort?.on("message", ({ id, fd }: SyncRequest) => {
  let reply: SyncReply = { id };
  try {
    fdatasyncSync(fd);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id, error: { message: String(e.message), ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort?.postMessage(reply);
});
