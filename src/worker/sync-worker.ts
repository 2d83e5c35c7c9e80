// The sync thread's worker (see sync-thread.ts): fdatasync of each descriptor asked, in order.
import { fdatasyncSync } from "node:fs";
import { parentPort } from "node:worker_threads";

export interface SyncRequest {
  id: number;
  fds: number[];
}

export interface SyncReply {
  id: number;
  /** Set when a sync failed: the system's message and errno code (EIO, ENOSPC, EBADF…). */
  error?: { message: string; code?: string };
}

parentPort?.on("message", ({ id, fds }: SyncRequest) => {
  let reply: SyncReply = { id };
  try {
    for (const fd of fds) fdatasyncSync(fd);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    reply = { id, error: { message: String(e.message), ...(e.code ? { code: e.code } : {}) } };
  }
  parentPort?.postMessage(reply);
});
