// fdatasync on a thread of its own. The journal's group commit waits on it for every
// acknowledgement; on libuv's pool it would queue behind the Ed25519 jobs of every request in
// flight (one FIFO for all), so each group waited for all the signing submitted before it, and
// requests piled up waiting for durability while the cores ran out of work. Here a sync
// starts as soon as it is asked for, alongside the pool.
import { WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import { WitnessError } from "./errors.js";

/** The sync thread's answer (sync-worker.ts): the error of a failed fdatasync, with its errno code. */
export interface SyncReply {
  error: { message: string; code: string } | null;
}

const WORKER = workerModule(import.meta.url, "sync-worker");

export class SyncThread {
  private readonly calls = new WorkerCalls<SyncReply>(startWorker(WORKER), "the sync thread");

  /** fdatasync(fd) on the sync thread; syncs run one after another, in the order asked. */
  async fdatasync(fd: number): Promise<void> {
    let reply: SyncReply;
    try {
      reply = await this.calls.call({ fd });
    } catch (err) {
      throw new WitnessError("io", (err as Error).message, { cause: err });
    }
    if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
  }

  /** Stops the thread (after the syncs asked for have been answered, when the caller waited for them). */
  async close(): Promise<void> {
    await this.calls.terminate();
  }
}
