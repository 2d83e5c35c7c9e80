// The compaction thread (compactor.ts): compresses sealed entry bundles at the lowest CPU
// priority, so on a busy machine ingest keeps the cores and compression takes what is left.
import { readlinkSync } from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { compactBundleFile, type CompactOutcome } from "./compact-bundle.js";
import { FsLayout } from "./layout.js";

export type CompactRequest = { index: number; level: number };
export type CompactReply = { outcome?: CompactOutcome; error?: string };

/** Lowers this thread's priority (Linux: a thread is a task with its own nice value). */
function niceThisThread(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isSafeInteger(tid)) os.setPriority(tid, 19);
  } catch {
    // Elsewhere the thread keeps the process's priority.
  }
}

niceThisThread();
const port = parentPort!;
const layout = new FsLayout((workerData as { dir: string }).dir);
port.on("message", ({ id, index, level }: CompactRequest & { id: number }) => {
  let reply: CompactReply;
  try {
    reply = { outcome: compactBundleFile(layout, index, level) };
  } catch (err) {
    reply = { error: (err as Error).message };
  }
  port.postMessage({ id, ...reply });
});
