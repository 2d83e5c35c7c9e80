// fdatasync on a thread of its own. The journal's group commit waits on it for every
// acknowledgement; on libuv's pool it would queue behind the Ed25519 jobs of every request in
// flight (one FIFO for all), so each group waited for all the signing submitted before it, and
// requests piled up waiting for durability while the cores ran out of work. Here a sync
// starts as soon as it is asked for, alongside the pool.
import { Worker } from "node:worker_threads";
import { WitnessError } from "./errors.js";

// CommonJS, evaluated in the worker: one fdatasync per message, answered in order.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { fdatasyncSync } = require("node:fs");
parentPort.on("message", (fd) => {
  try {
    fdatasyncSync(fd);
    parentPort.postMessage(null);
  } catch (err) {
    parentPort.postMessage({ message: String(err && err.message), code: String(err && err.code) });
  }
});
`;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SyncThread {
  private readonly worker: Worker;
  private readonly waiting: Waiter[] = [];
  private failed: Error | null = null;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    // Held open only while a sync is pending (see fdatasync).
    this.worker.unref();
    this.worker.on("message", (answer: { message: string; code: string } | null) => {
      const w = this.waiting.shift();
      if (this.waiting.length === 0) this.worker.unref();
      if (!w) return;
      if (answer === null) w.resolve();
      else w.reject(Object.assign(new Error(answer.message), { code: answer.code }));
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new WitnessError("io", `the sync thread exited (code ${code})`)));
  }

  /** fdatasync(fd) on the sync thread; syncs run one after another, in the order asked. */
  fdatasync(fd: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.ref();
      this.worker.postMessage(fd);
    });
  }

  /** Stops the thread (after the syncs asked for have been answered, when the caller waited for them). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
