// libuv's thread pool set below the event loop's priority, for a server whose requests each
// pass through the event loop in turn and put CPU-heavy jobs on the pool (the witness: an
// Ed25519 check and a signature per request, through node:crypto's callbacks).
//
// At equal priority a pool thread woken for a new job takes the core from the event loop the
// moment it queued that job, and the event loop — the one stage every request goes through —
// then waits in the run queue while both cores run curve arithmetic. With the pool's threads
// a few nice levels lower, the event loop runs whenever it has work and the pool fills the
// cores in the time it leaves. (Worker threads of our own that lower themselves were tried:
// their message per batch each way cost more than the priority won.)
//
// Node gives no handle on the pool's threads, so they are found by what they do: every pool
// thread is given one CPU-bound job at once, and the threads that ran them are the pool.
// Linux only (setpriority on a thread id, run times from /proc/self/task); elsewhere, or if
// the threads cannot be told apart, nothing changes and the reason is returned.
import { pbkdf2 } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";

/** The threads lowered and the nice value they run at, or why nothing was changed. */
export type LoweredPool = { threads: number[]; nice: number } | { unchanged: string };

/** libuv's largest pool. */
const MAX_POOL = 1024;
/** How many times the probe may run before giving up on finding every thread. */
const PROBES = 5;
/** A probe job: some milliseconds of CPU, far above what another thread runs meanwhile. */
const PROBE_ITERATIONS = 20_000;

/** The pool's size as libuv reads it at its start: UV_THREADPOOL_SIZE as an integer in 1–1024, else 4. */
export function libuvPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const text = env["UV_THREADPOOL_SIZE"];
  if (text === undefined) return 4;
  // As C's atoi: leading digits, anything else 0; 0 means 1.
  const n = Number.parseInt(text.trim(), 10);
  return Math.min(MAX_POOL, Math.max(1, Number.isNaN(n) ? 1 : n));
}

/** Each thread's time on a CPU so far, in nanoseconds (schedstat), by thread id. */
function runTimes(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

/** The threads that ran the pool's jobs while `size` CPU-bound jobs kept every pool thread busy. */
async function probe(size: number): Promise<number[]> {
  const before = runTimes();
  await Promise.all(
    Array.from(
      { length: size },
      () =>
        new Promise<void>((resolve) =>
          pbkdf2("probe", "salt", PROBE_ITERATIONS, 32, "sha256", () => resolve()),
        ),
    ),
  );
  const ran = [...runTimes()]
    .filter(([tid]) => tid !== process.pid)
    .map(([tid, ns]) => [tid, ns - (before.get(tid) ?? 0)] as const);
  const most = Math.max(0, ...ran.map(([, ns]) => ns));
  // A thread ran a job if it ran for at least a quarter of the longest: the others (V8's
  // helpers, a sync thread) run for microseconds meanwhile.
  return ran.filter(([, ns]) => most > 0 && ns >= most / 4).map(([tid]) => tid);
}

/**
 * Finds libuv's pool threads and sets them `levels` nice levels below the calling thread
 * (capped at 19). Call it from the main thread, before the server takes requests.
 */
export async function lowerLibuvPool(levels: number): Promise<LoweredPool> {
  if (process.platform !== "linux") return { unchanged: `not Linux (${process.platform})` };
  const size = libuvPoolSize();
  const found = new Set<number>();
  try {
    for (let i = 0; i < PROBES && found.size < size; i++) for (const tid of await probe(size)) found.add(tid);
  } catch (err) {
    return { unchanged: `cannot read this process's threads: ${(err as Error).message}` };
  }
  if (found.size !== size)
    return { unchanged: `found ${found.size} threads running the pool's jobs where it has ${size}` };
  const nice = Math.min(19, os.getPriority(0) + levels);
  const threads = [...found].sort((a, b) => a - b);
  try {
    for (const tid of threads) os.setPriority(tid, nice);
  } catch (err) {
    return { unchanged: `cannot set the priority of every pool thread: ${(err as Error).message}` };
  }
  return { threads, nice };
}
