// add-checkpoint checks (check.ts) on threads of their own: parsing, the log's signature, the
// consistency proof and the cosignature — most of a request's CPU — leave the event loop, which
// keeps the network, the log's turn and the journal. Each thread verifies and signs in line
// (libsodium when built), so a request costs two messages instead of two trips through libuv's
// pool and back. The threads hold the witness's key and the logs' verifier keys; a reloaded
// logs file reaches them before the next request does (messages to a thread arrive in order).
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import type { CheckOutcome } from "./check.js";
import type { StoredCheckpoint } from "./checkpoint-store.js";
import type { LogConfig } from "./logs-config.js";
import type { Checker } from "./witness.js";

const WORKER = workerModule(import.meta.url, "check-worker");

/** What a check thread is told: a request with the record held, or the logs' verifier keys. */
export type CheckRequest =
  { body: string; held: StoredCheckpoint | undefined } | { logs: [origin: string, verifierKeys: string[]][] };

/** A check thread's answer: the outcome, or why the check failed (not for bad input: a failing key). */
export type CheckReply = { outcome: CheckOutcome; error?: undefined } | { error: string };

export interface CheckThreadData {
  /** The witness's cosignature/v1 signer key; absent for a mirror's pending checkpoints. */
  signerKey?: string;
}

/** One thread for each core beyond the event loop's, at least one, at most four. */
export function defaultCheckThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export class CheckThreads implements Checker {
  private readonly threads: { worker: Worker; calls: WorkerCalls<CheckReply> }[] = [];
  private logs: ReadonlyMap<string, LogConfig> | undefined;
  private turn = 0;

  constructor(data: CheckThreadData, threads = defaultCheckThreads()) {
    for (let i = 0; i < threads; i++) {
      const worker = startWorker(WORKER, data);
      this.threads.push({ worker, calls: new WorkerCalls(worker, "add-checkpoint check thread") });
    }
  }

  async check(
    body: string,
    held: StoredCheckpoint | undefined,
    logs: ReadonlyMap<string, LogConfig>,
  ): Promise<CheckOutcome> {
    if (logs !== this.logs) {
      this.logs = logs;
      const keys: CheckRequest = {
        logs: [...logs].map(([origin, log]) => [origin, log.verifiers.map((v) => v.key)]),
      };
      for (const { worker } of this.threads) worker.postMessage(keys);
    }
    const thread = this.threads[this.turn++ % this.threads.length]!;
    const request: CheckRequest = { body, held };
    const reply = await thread.calls.call(request);
    if (reply.error !== undefined) throw new Error(`add-checkpoint check failed: ${reply.error}`);
    return reply.outcome;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map(({ calls }) => calls.terminate()));
  }
}
