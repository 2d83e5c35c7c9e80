// serve's thinning scan (thin.ts) on a thread of its own: reading the full bundles a run looks
// through, decompressing them and parsing every entry to classify it is most of a run's work, and
// on serve's event loop it delayed every webhook answer due meanwhile. The thread reads the data
// directory itself (full bundles never change under a reader but by retention and erasure, which
// wait for the scan) at the lowest CPU priority, and answers what it found once.
import { LogError, type LogErrorCode } from "../store/types.js";
import { firstMessage, workerModule } from "../worker/start.js";
import { RetentionError, type RetentionPolicy } from "./policy.js";
import type { FindThinnable, ThinScan } from "./thin.js";

const WORKER = workerModule(import.meta.url, "scan-worker");

/** What the scan thread is given: ThinScan without its callbacks, the cursors as pairs. */
export interface ScanJob {
  dataDir: string;
  policy: RetentionPolicy;
  from: number;
  limit: number;
  nowUs: number;
  cursors?: [keep: number, index: number][];
}

/** Its one answer: findThinnable's, or why it failed (with the code of a LogError, as in line). */
export type ScanReply =
  | { read: number; found: [bundle: number, lines: number[]][]; moves: [keep: number, index: number][] }
  | { error: string; logCode?: LogErrorCode };

/** findThinnable on a thread of its own, over the full bundles of the data directory `dataDir`. */
export function scanOffThread(dataDir: string): FindThinnable {
  return async (_log, opts: ThinScan, found, moves) => {
    const job: ScanJob = {
      dataDir,
      policy: opts.policy,
      from: opts.from,
      limit: opts.limit,
      nowUs: opts.nowUs,
      ...(opts.cursors ? { cursors: opts.cursors.entries() } : {}),
    };
    const reply = await firstMessage<ScanReply>(WORKER, job);
    if ("error" in reply) {
      const message = `the thinning scan failed: ${reply.error}`;
      throw reply.logCode ? new LogError(reply.logCode, message) : new RetentionError("io", message);
    }
    for (const [bundle, lines] of reply.found) found.set(bundle, lines);
    moves.push(...reply.moves);
    return reply.read;
  };
}
