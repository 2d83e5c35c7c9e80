// The compaction thread (compactor.ts): compresses sealed entry bundles at the lowest CPU
// priority, so on a busy machine ingest keeps the cores and compression takes what is left;
// and rewrites bundles with tombstones for erasure and thinning (tombstone.ts).
import { parentPort, workerData } from "node:worker_threads";
import { CodedError } from "../../errors.js";
import { nameThisThread, niceThisThread } from "../../worker/thread-name.js";
import { compactBundleFile, reframeBundleFile, type CompactOutcome } from "./compact-bundle.js";
import { FsLayout } from "./layout.js";
import { tombstoneBundleFile, type TombstoneOutcome } from "./tombstone.js";

/** `reframe`: rewrite a bundle compressed in one frame too (reframeBundleFile). */
export type CompactRequest =
  | { op: "compact"; index: number; level: number; perFrame: number; reframe: boolean }
  | { op: "tombstone"; index: number; lines: number[]; level: number; perFrame: number };
export type CompactReply = {
  outcome?: CompactOutcome;
  tombstone?: TombstoneOutcome;
  error?: string;
  /** The error's code, when it had one (a LogError's "corrupt"). */
  code?: string;
};

function handle(m: CompactRequest): CompactReply {
  if (m.op === "tombstone")
    return { tombstone: tombstoneBundleFile(layout, m.index, m.lines, m.level, m.perFrame) };
  return {
    outcome: (m.reframe ? reframeBundleFile : compactBundleFile)(layout, m.index, m.level, m.perFrame),
  };
}

niceThisThread();
nameThisThread("kt-compact");
const port = parentPort!;
const layout = new FsLayout((workerData as { dir: string }).dir);
port.on("message", (m: CompactRequest & { id: number }) => {
  let reply: CompactReply;
  try {
    reply = handle(m);
  } catch (err) {
    reply = {
      error: (err as Error).message,
      ...(err instanceof CodedError ? { code: String(err.code) } : {}),
    };
  }
  port.postMessage({ id: m.id, ...reply });
});
