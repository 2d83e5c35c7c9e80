// The compaction thread (compactor.ts): compresses sealed entry bundles at the lowest CPU
// priority, so on a busy machine ingest keeps the cores and compression takes what is left.
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread, niceThisThread } from "../../worker/thread-name.js";
import { compactBundleFile, reframeBundleFile, type CompactOutcome } from "./compact-bundle.js";
import { FsLayout } from "./layout.js";

/** `reframe`: rewrite a bundle compressed in one frame too (reframeBundleFile). */
export type CompactRequest = { index: number; level: number; perFrame: number; reframe: boolean };
export type CompactReply = { outcome?: CompactOutcome; error?: string };

niceThisThread();
nameThisThread("kt-compact");
const port = parentPort!;
const layout = new FsLayout((workerData as { dir: string }).dir);
port.on("message", ({ id, index, level, perFrame, reframe }: CompactRequest & { id: number }) => {
  let reply: CompactReply;
  try {
    reply = { outcome: (reframe ? reframeBundleFile : compactBundleFile)(layout, index, level, perFrame) };
  } catch (err) {
    reply = { error: (err as Error).message };
  }
  port.postMessage({ id, ...reply });
});
