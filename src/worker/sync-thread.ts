// fdatasync on a thread of its own, for a file whose sync an acknowledgement waits on while
// libuv's pool is kept busy by other work (a witness's journal behind every request's Ed25519
// jobs): on the pool such a sync queues behind all of it, one FIFO for all; here it starts as
// soon as it is asked for. It costs a message each way, more than a pool job on a pool that
// is idle: the log's write-ahead log, whose pool has little else to do, syncs there.
import { WorkerCalls } from "./calls.js";
import { startWorker, workerModule } from "./start.js";
import type { SyncReply } from "./sync-worker.js";

const WORKER = workerModule(import.meta.url, "sync-worker");

export class SyncThread {
  private calls: WorkerCalls<SyncReply> | undefined;
  private closed = false;

  /** `name` says in errors whose syncs these are, e.g. "write-ahead log sync thread". */
  constructor(private readonly name: string) {}

  /**
   * fdatasync(fd) on the thread; syncs run one after another, in the order asked. A failed sync
   * rejects with the system's error (its errno code kept); a dead thread fails this and every
   * later call.
   */
  async fdatasync(fd: number): Promise<void> {
    if (this.closed) throw new Error(`${this.name} stopped (closed)`);
    // Started at the first sync: a log that is only read never needs the thread.
    this.calls ??= new WorkerCalls<SyncReply>(startWorker(WORKER), this.name);
    const reply = await this.calls.call({ fd });
    if (reply.error !== undefined)
      throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
  }

  /** Stops the thread; syncs still pending fail (wait for them first to have them done). */
  async close(): Promise<void> {
    this.closed = true;
    await this.calls?.terminate();
  }
}
