// Serve's worker threads name themselves, so `top -H`, `ps -L` and the webhook bench's CPU
// breakdown tell them apart (every thread of a Node process is otherwise called "node").
// Linux only: the name is written to /proc/thread-self/comm, and the write must run on the
// thread being named, so each worker module calls this when it starts.
import { writeFileSync } from "node:fs";

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
