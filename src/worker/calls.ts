// Request and reply over a worker thread, the bookkeeping every worker of kubetrail needs: an
// id per call, the worker referenced only while a call is pending (an idle worker must not keep
// the process alive, a busy one must, or its reply would be dropped), and every pending and
// later call failed once the worker has died instead of waiting forever.
import type { Transferable, Worker } from "node:worker_threads";

/** True when `view` covers all of its memory, which can then be transferred instead of copied. */
export function spansBuffer(view: Uint8Array): boolean {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
}

/** What a worker thread posts back: the id of the call it answers, and the answer. */
type Reply<T> = T & { id: number };

export class WorkerCalls<T> {
  private readonly pending = new Map<number, { resolve(reply: T): void; reject(err: Error): void }>();
  private next = 0;
  /** Set once the worker died: every later call fails at once. */
  private failure: Error | null = null;

  /**
   * `name` says in errors which worker stopped, e.g. "dedupe store writer". A message without
   * an id answers no call: it goes to `onNotice` (a worker telling of work it did on its own).
   */
  constructor(
    private readonly worker: Worker,
    private readonly name: string,
    onNotice?: (message: unknown) => void,
  ) {
    worker.on("message", (m: Reply<T>) => {
      if (typeof m.id !== "number") return onNotice?.(m);
      const call = this.pending.get(m.id);
      if (call === undefined) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      call.resolve(m);
    });
    worker.on("error", (err) => this.fail(new Error(`${name}: ${err.message}`)));
    worker.on("exit", (code) => this.fail(new Error(`${name} stopped (exit code ${code})`)));
    worker.unref();
  }

  /** Posts `message` with an id added; resolves with the worker's reply to it. */
  call(message: object, transfer: readonly Transferable[] = []): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.next++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** True once the worker has died or was terminated: every call fails. */
  get stopped(): boolean {
    return this.failure !== null;
  }

  /** Number of calls waiting for their reply. */
  get waiting(): number {
    return this.pending.size;
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners("exit");
    this.fail(new Error(`${this.name} stopped (closed)`));
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
  }
}
