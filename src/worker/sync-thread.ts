// fdatasync on a thread of its own, for a file whose sync an acknowledgement waits on while
// libuv's pool is kept busy by other work (a witness's journal behind every request's Ed25519
// jobs): on the pool such a sync queues behind all of it, one FIFO for all; here it starts as
// soon as it is asked for. The log's write-ahead log, whose pool has little else to do, syncs
// on the pool.
//
// Caller and thread share four words (sync-control.ts) instead of exchanging messages: the
// caller writes the descriptor and a sync number and wakes the thread (Atomics.notify); the
// thread, blocked in Atomics.wait, syncs, writes the result and wakes the caller's event loop
// (Atomics.waitAsync). A message each way, serialized and dispatched through both threads'
// event loops, cost more CPU per sync than these wake-ups.
import { getSystemErrorMap } from "node:util";
import { CONTROL_WORDS, DONE, ERRNO, FD, REQUEST, STOP } from "./sync-control.js";
import { startWorker, workerModule } from "./start.js";
import type { Worker } from "node:worker_threads";

const WORKER = workerModule(import.meta.url, "sync-worker");

/** Atomics.waitAsync (Node 16+), which the ES2023 library typings do not declare yet. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

interface Pending {
  fd: number;
  resolve(): void;
  reject(err: Error): void;
}

/** The error fs.fdatasync gives for the system error number `errno`, its code kept. */
function syncError(errno: number): Error {
  const [code, description] = getSystemErrorMap().get(-errno) ?? ["EIO", "i/o error"];
  return Object.assign(new Error(`${code}: ${description}, fdatasync`), {
    errno: -errno,
    code,
    syscall: "fdatasync",
  });
}

export class SyncThread {
  private thread: { worker: Worker; control: Int32Array } | undefined;
  /** Syncs asked for, in order; the first is the one the thread runs. */
  private readonly queue: Pending[] = [];
  private asked = 0;
  /** Set once closed or once the thread died: every pending and later sync fails with it. */
  private failure: Error | null = null;

  /** `name` says in errors whose syncs these are, e.g. "write-ahead log sync thread". */
  constructor(private readonly name: string) {}

  /**
   * fdatasync(fd) on the thread; syncs run one after another, in the order asked. A failed sync
   * rejects with the system's error (its errno code kept); a dead thread fails this and every
   * later call.
   */
  fdatasync(fd: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      // Alone in the queue: nothing runs, so it starts now; else it follows the one before.
      if (this.queue.push({ fd, resolve, reject }) === 1) this.next();
    });
  }

  /** Stops the thread; syncs still pending fail (wait for them first to have them done). */
  async close(): Promise<void> {
    this.fail(new Error(`${this.name} stopped (closed)`));
    const thread = this.thread;
    if (!thread) return;
    thread.worker.removeAllListeners("exit");
    Atomics.store(thread.control, REQUEST, STOP);
    Atomics.notify(thread.control, REQUEST);
    await thread.worker.terminate();
  }

  /** Hands the queue's first sync to the thread. */
  private next(): void {
    const first = this.queue[0];
    if (!first || this.failure) return;
    // Started at the first sync: a log that is only read never needs the thread.
    const { worker, control } = (this.thread ??= this.start());
    // Referenced only while a sync is pending: an idle thread must not keep the process alive.
    worker.ref();
    const asked = ++this.asked;
    Atomics.store(control, FD, first.fd);
    Atomics.store(control, REQUEST, asked);
    Atomics.notify(control, REQUEST);
    const done = (): void => {
      if (this.failure || this.queue[0] !== first) return;
      this.queue.shift();
      worker.unref();
      const errno = Atomics.load(control, ERRNO);
      if (errno === 0) first.resolve();
      else first.reject(syncError(errno));
      this.next();
    };
    const wait = waitAsync(control, DONE, asked - 1);
    if (wait.async) void wait.value.then(done);
    else done();
  }

  private start(): { worker: Worker; control: Int32Array } {
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT));
    const worker = startWorker(WORKER, control.buffer);
    worker.unref();
    worker.on("error", (err) => this.fail(new Error(`${this.name}: ${err.message}`)));
    worker.on("exit", (code) => this.fail(new Error(`${this.name} stopped (exit code ${code})`)));
    return { worker, control };
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.queue.splice(0)) p.reject(this.failure);
  }
}
