// Serve's worker threads name themselves, so `top -H`, `ps -L` and the webhook bench's CPU
// breakdown tell them apart (every thread of a Node process is otherwise called "node"); those
// doing background work lower their own priority. Linux only: the name is written to
// /proc/thread-self/comm, and both must run on the thread concerned, so each worker module
// calls them when it starts.
import { readlinkSync, writeFileSync } from "node:fs";
import os from "node:os";

/** Linux keeps at most 15 bytes of a thread's name. */
const COMM_MAX = 15;

/** Names the calling thread `name` (at most 15 bytes); elsewhere than Linux, does nothing. */
export function nameThisThread(name: string): void {
  if (Buffer.byteLength(name) > COMM_MAX)
    throw new Error(`thread name "${name}" is longer than ${COMM_MAX} bytes`);
  try {
    writeFileSync("/proc/thread-self/comm", name);
  } catch {
    // Not Linux, or /proc not mounted: the thread keeps its name.
  }
}

/**
 * Gives the calling thread the lowest CPU priority (Linux: a thread is a task with its own
 * nice value), so on a busy machine serve's requests keep the cores and it takes what is left.
 */
export function niceThisThread(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isSafeInteger(tid)) os.setPriority(tid, 19);
  } catch {
    // Elsewhere the thread keeps the process's priority.
  }
}
