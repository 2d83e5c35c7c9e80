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
import type { CheckOutcome, Checker } from "./check.js";
import type { StoredCheckpoint } from "./checkpoint-store.js";
import type { LogConfig } from "./logs-config.js";

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

interface Thread {
  worker: Worker;
  calls: WorkerCalls<CheckReply>;
  /** The logs whose keys it was last sent. */
  logs?: ReadonlyMap<string, LogConfig>;
}

export class CheckThreads implements Checker {
  private readonly threads: Thread[] = [];
  private turn = 0;
  private closed = false;

  constructor(
    private readonly data: CheckThreadData,
    threads = defaultCheckThreads(),
  ) {
    for (let i = 0; i < threads; i++) this.threads.push(this.start());
  }

  async check(
    body: string,
    held: StoredCheckpoint | undefined,
    logs: ReadonlyMap<string, LogConfig>,
  ): Promise<CheckOutcome> {
    const thread = this.next();
    if (thread.logs !== logs) {
      thread.logs = logs;
      const keys: CheckRequest = {
        logs: [...logs].map(([origin, log]) => [origin, log.verifiers.map((v) => v.key)]),
      };
      thread.worker.postMessage(keys);
    }
    const request: CheckRequest = { body, held };
    const reply = await thread.calls.call(request);
    if (reply.error !== undefined) throw new Error(`add-checkpoint check failed: ${reply.error}`);
    return reply.outcome;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map(({ calls }) => calls.terminate()));
  }

  /**
   * The next thread in turn. One that died is replaced: the requests it held have failed (500),
   * but the witness must not answer 500 to every later one.
   */
  private next(): Thread {
    const i = this.turn++ % this.threads.length;
    const thread = this.threads[i]!;
    if (!thread.calls.stopped || this.closed) return thread;
    return (this.threads[i] = this.start());
  }

  private start(): Thread {
    const worker = startWorker(WORKER, this.data);
    return { worker, calls: new WorkerCalls(worker, "add-checkpoint check thread") };
  }
}
