// libuv's pool lowered below the event loop: the threads found are the ones that then run the
// pool's jobs, at the lowered priority, and no other thread's priority moves.
import { pbkdf2 } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { describe, expect, it } from "vitest";
import { libuvPoolSize, lowerLibuvPool } from "./libuv-pool.js";

/** Nice value and run time (ns) of each thread of this process. */
function threads(): Map<number, { nice: number; ranNs: number }> {
  const out = new Map<number, { nice: number; ranNs: number }>();
  for (const t of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const ranNs = Number(readFileSync(`/proc/self/task/${t}/schedstat`, "utf8").split(" ")[0]);
      out.set(Number(t), { nice: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]), ranNs });
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return out;
}

const poolJobs = (n: number): Promise<void[]> =>
  Promise.all(
    Array.from(
      { length: n },
      () => new Promise<void>((r) => pbkdf2("x", "y", 40_000, 32, "sha256", () => r())),
    ),
  );

describe("lowerLibuvPool", () => {
  it("reads the pool's size as libuv does", () => {
    expect(libuvPoolSize({})).toBe(4);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: "2" })).toBe(2);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: "0" })).toBe(1);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: "many" })).toBe(1);
    expect(libuvPoolSize({ UV_THREADPOOL_SIZE: "5000" })).toBe(1024);
  });

  it.runIf(process.platform === "linux")(
    "lowers exactly the threads that run the pool's jobs, and leaves every other thread alone",
    async () => {
      const before = threads();
      const main = os.getPriority(0);
      const lowered = await lowerLibuvPool(6);
      if (!("threads" in lowered)) throw new Error(`pool not lowered: ${lowered.unchanged}`);
      expect(lowered.threads).toHaveLength(libuvPoolSize());
      expect(lowered.nice).toBe(Math.min(19, main + 6));
      const after = threads();
      for (const tid of lowered.threads) expect(after.get(tid)?.nice).toBe(lowered.nice);
      expect(os.getPriority(0)).toBe(main);
      for (const [tid, t] of after)
        if (!lowered.threads.includes(tid) && before.has(tid)) expect(t.nice).toBe(before.get(tid)!.nice);
      // The pool's work now runs on the lowered threads: each thread that ran a job is one of them.
      const t0 = threads();
      await poolJobs(2 * libuvPoolSize());
      const ran = [...threads()]
        .filter(([tid]) => tid !== process.pid)
        .map(([tid, t]) => [tid, t.ranNs - (t0.get(tid)?.ranNs ?? 0)] as const);
      const most = Math.max(...ran.map(([, ns]) => ns));
      const workers = ran.filter(([, ns]) => ns >= most / 4).map(([tid]) => tid);
      expect(workers.length).toBeGreaterThan(0);
      for (const tid of workers) expect(lowered.threads).toContain(tid);
    },
  );
});
