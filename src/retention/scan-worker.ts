// The thread of scan-thread.ts: findThinnable over the data directory's full bundles, answered
// once.
import { parentPort, workerData } from "node:worker_threads";
import { FsLogFiles } from "../store/fs/files.js";
import { LogError } from "../store/types.js";
import { entrySpans, readEntriesFrom } from "../store/log-reader.js";
import { nameThisThread, niceThisThread } from "../worker/thread-name.js";
import type { ScanJob, ScanReply } from "./scan-thread.js";
import { findThinnable, ThinCursors } from "./thin.js";

const port = parentPort;
if (!port) throw new Error("scan-worker runs only as a worker thread");
niceThisThread();
nameThisThread("kt-thin-scan");

const job = workerData as ScanJob;
const read = entrySpans(new FsLogFiles(job.dataDir));
const found = new Map<number, number[]>();
const moves: [number, number][] = [];
findThinnable(
  { readEntries: (start, end) => readEntriesFrom(read, start, end) },
  {
    policy: job.policy,
    from: job.from,
    limit: job.limit,
    nowUs: job.nowUs,
    ...(job.cursors ? { cursors: ThinCursors.of(job.cursors) } : {}),
  },
  found,
  moves,
).then(
  (n) => port.postMessage({ read: n, found: [...found], moves } satisfies ScanReply),
  (err: unknown) =>
    port.postMessage({
      error: err instanceof Error ? err.message : String(err),
      ...(err instanceof LogError ? { logCode: err.code } : {}),
    } satisfies ScanReply),
);
