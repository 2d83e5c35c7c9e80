// The witness's Ed25519 work (checking each checkpoint's log signature, making its
// cosignature) on threads of its own that run below the event loop's priority.
//
// On libuv's pool the same work slowed the whole server: a pool thread woken for a job runs
// at the event loop's priority and takes the core from it, and the event loop — parsing,
// TLS, routing, the journal's plumbing — is the one stage every request passes through in
// turn. Node gives no handle on its pool's threads, so these are worker threads that lower
// their own priority when they start (ed25519-worker.ts): the event loop runs whenever it has
// work, the curve arithmetic fills the time it leaves. Jobs asked for in one turn of the
// event loop go over in one message per thread, packed in one transferred buffer, so a
// request costs the event loop a share of a message rather than a message each way.
//
// A thread that dies fails its jobs with WitnessError "crypto-thread" and is replaced for the
// next ones; nothing waits forever.
import type { KeyObject } from "node:crypto";
import os from "node:os";
import type { Ed25519Threads } from "../tlog/index.js";
import { WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import {
  type Ed25519Batch,
  type Ed25519BatchReply,
  type Ed25519WorkerData,
  KEY_BYTES,
  SIG_BYTES,
  SIGN,
  U32,
  VERIFY,
} from "./ed25519-jobs.js";
import { WitnessError } from "./errors.js";

const WORKER = workerModule(import.meta.url, "ed25519-worker");

export interface Ed25519PoolOptions {
  /** Threads (default: the cores Node may use). */
  threads?: number;
  /** Nice levels below the event loop the threads run at (default 10; 0 keeps the same). */
  lower?: number;
  /** The threads' module (default ed25519-worker): tests give one that dies. */
  module?: URL;
}

type Job =
  | { kind: typeof VERIFY; key: Uint8Array; msg: Uint8Array; sig: Uint8Array; done: Settle<boolean> }
  | { kind: typeof SIGN; key: number; msg: Uint8Array; done: Settle<Uint8Array> };

interface Settle<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

interface Slot {
  calls: WorkerCalls<Ed25519BatchReply>;
  /** Signing keys (by number) this thread was given. */
  given: Set<number>;
  /** Jobs sent and not answered. */
  busy: number;
}

/** Bytes a job takes packed (see ed25519-jobs.ts runJobs). */
const packedSize = (j: Job): number =>
  1 + (j.kind === VERIFY ? KEY_BYTES + SIG_BYTES + U32 : 2 * U32) + j.msg.length;

/** Packs jobs into one buffer: a verify as kind, key, signature, length, message; a sign as kind, key number, length, message. */
export function packJobs(jobs: readonly Job[]): { packed: Uint8Array; buffer: ArrayBuffer } {
  let size = 0;
  for (const j of jobs) size += packedSize(j);
  const buffer = new ArrayBuffer(size);
  const buf = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let at = 0;
  for (const j of jobs) {
    buf[at++] = j.kind;
    if (j.kind === VERIFY) {
      buf.set(j.key, at);
      buf.set(j.sig, (at += KEY_BYTES));
      view.setUint32((at += SIG_BYTES), j.msg.length);
      at += U32;
    } else {
      view.setUint32(at, j.key);
      view.setUint32(at + U32, j.msg.length);
      at += 2 * U32;
    }
    buf.set(j.msg, at);
    at += j.msg.length;
  }
  return { packed: buf, buffer };
}

export class Ed25519Pool implements Ed25519Threads {
  private readonly slots: (Slot | undefined)[];
  private readonly lower: number;
  private readonly module: URL;
  private queue: Job[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Signing keys by the number jobs carry; a server signs with one or two keys for its lifetime. */
  private readonly keyNumbers = new WeakMap<KeyObject, number>();
  private readonly keys: KeyObject[] = [];

  constructor(opts: Ed25519PoolOptions = {}) {
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new WitnessError("config", `Ed25519 threads: ${threads} is not a positive integer`);
    this.slots = new Array<Slot | undefined>(threads).fill(undefined);
    this.lower = opts.lower ?? 10;
    this.module = opts.module ?? WORKER;
  }

  /** Whether sig is a valid Ed25519 signature of msg by the raw 32-byte key; false for anything malformed. */
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
    if (publicKey.length !== KEY_BYTES || sig.length !== SIG_BYTES) return Promise.resolve(false);
    return new Promise((resolve, reject) =>
      this.add({ kind: VERIFY, key: publicKey, msg, sig, done: { resolve, reject } }),
    );
  }

  /** The Ed25519 signature of msg by privateKey (an Ed25519 KeyObject). */
  sign(privateKey: KeyObject, msg: Uint8Array): Promise<Uint8Array> {
    let key = this.keyNumbers.get(privateKey);
    if (key === undefined) {
      key = this.keys.push(privateKey) - 1;
      this.keyNumbers.set(privateKey, key);
    }
    const n = key;
    return new Promise((resolve, reject) => this.add({ kind: SIGN, key: n, msg, done: { resolve, reject } }));
  }

  /** Stops the threads; jobs not answered yet fail. */
  async close(): Promise<void> {
    this.closed = true;
    this.failJobs(this.queue.splice(0), new WitnessError("crypto-thread", "the Ed25519 threads are closed"));
    await Promise.all(this.slots.splice(0).map((s) => s?.calls.terminate()));
  }

  private add(job: Job): void {
    if (this.closed) {
      job.done.reject(new WitnessError("crypto-thread", "the Ed25519 threads are closed"));
      return;
    }
    this.queue.push(job);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the event loop's current phase: every job its callbacks asked for goes at once.
      setImmediate(() => this.flush());
    }
  }

  /**
   * Gives the queued jobs to the threads that have none in hand, shared evenly; the rest wait
   * for a thread to answer. So the busier the threads, the larger each batch, and the fewer
   * messages each job costs both ends.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0 || this.closed) return;
    const idle = this.slots.map((_, i) => this.slot(i)).filter((s) => s.busy === 0);
    const parts = Math.min(idle.length, this.queue.length);
    if (parts === 0) return;
    const jobs = this.queue.splice(0);
    for (let p = 0, from = 0; p < parts; p++) {
      const to = from + Math.ceil((jobs.length - from) / (parts - p));
      this.send(idle[p]!, jobs.slice(from, to));
      from = to;
    }
  }

  /** The thread in slot i, started (again) if it is not running. */
  private slot(i: number): Slot {
    let s = this.slots[i];
    if (s === undefined || s.calls.stopped) {
      const data: Ed25519WorkerData = { lower: this.lower };
      s = {
        calls: new WorkerCalls(startWorker(this.module, data), "Ed25519 thread"),
        given: new Set(),
        busy: 0,
      };
      this.slots[i] = s;
    }
    return s;
  }

  private send(slot: Slot, jobs: Job[]): void {
    const keys: [number, KeyObject][] = [];
    for (const j of jobs)
      if (j.kind === SIGN && !slot.given.has(j.key)) {
        slot.given.add(j.key);
        keys.push([j.key, this.keys[j.key]!]);
      }
    const { packed, buffer } = packJobs(jobs);
    const batch: Omit<Ed25519Batch, "id"> = keys.length > 0 ? { jobs: packed, keys } : { jobs: packed };
    slot.busy += jobs.length;
    slot.calls.call(batch, [buffer]).then(
      (reply) => {
        slot.busy -= jobs.length;
        this.flush();
        if ("error" in reply)
          this.failJobs(jobs, new WitnessError("crypto-thread", `Ed25519 thread: ${reply.error}`));
        else settleJobs(jobs, reply.out);
      },
      (err: Error) => {
        slot.busy -= jobs.length;
        this.flush();
        this.failJobs(
          jobs,
          new WitnessError("crypto-thread", `${err.message}; its Ed25519 jobs failed`, { cause: err }),
        );
      },
    );
  }

  private failJobs(jobs: readonly Job[], err: Error): void {
    for (const j of jobs) j.done.reject(err);
  }
}

function settleJobs(jobs: readonly Job[], out: Uint8Array): void {
  let at = 0;
  for (const j of jobs) {
    if (j.kind === VERIFY) j.done.resolve(out[at++] === 1);
    else j.done.resolve(out.slice(at, (at += SIG_BYTES)));
  }
}
