// An integration round covers what was written when it began: entries appended while it runs
// wait for the next round (the timer's, or a waiter's), instead of keeping the round going
// with one publish after another for as long as appends keep coming.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openFsLog } from "./fs/storage.js";
import type { SignedCheckpoint } from "./types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entry = (i: number) => Buffer.from(JSON.stringify({ kind: "Event", n: i }));

describe("integration rounds", () => {
  it("do not chase entries appended while they run", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-rounds-"));
    dirs.push(dir);
    // No timer round during the test: only waitIntegrated starts one.
    const log = await openFsLog(dir, { integrateIntervalMs: 3_600_000 });
    const published: SignedCheckpoint[] = [];
    log.onIntegrated((cp) => published.push(cp));
    try {
      let n = 0;
      for (; n < 10; n++) await log.append([entry(n)]);
      // One append after another, durable each, for as long as the round runs and after it.
      let stop = false;
      const appending = (async () => {
        while (!stop) await log.append([entry(n++)]);
      })();
      const appended = async (count: number): Promise<void> => {
        const until = n + count;
        while (n < until) await new Promise((r) => setTimeout(r, 5));
      };
      await log.waitIntegrated(10);
      // The round may still publish what it found written when it began (a second slice, when
      // some leaf hashes were on their way); 100 appends later, each after its own fdatasync,
      // it has ended.
      await appended(100);
      const afterRound = published.length;
      const covered = log.latestCheckpoint().size;
      await appended(100);
      stop = true;
      await appending;
      expect(published.length).toBe(afterRound);
      expect(log.latestCheckpoint().size).toBe(covered);
      expect(log.size()).toBeGreaterThan(covered + 100);
      // Waiting for the rest starts a round that covers it.
      const all = log.size();
      expect((await log.waitIntegrated(all)).size).toBeGreaterThanOrEqual(all);
    } finally {
      await log.close();
    }
  });

  it("count the time they wait for cosigners, and only that", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-rounds-"));
    dirs.push(dir);
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => (release = r));
    let asked = 0;
    const log = await openFsLog(dir, {
      integrateIntervalMs: 3_600_000,
      // The first checkpoint (opening a new log) passes; the next waits until released.
      cosign: async (signed) => {
        if (asked++ > 0) await held;
        return signed;
      },
    });
    try {
      await log.append([entry(0)]);
      const integrated = log.waitIntegrated(1);
      while (asked < 2) await new Promise((r) => setTimeout(r, 5));
      const before = log.cosignerWaitMs();
      await new Promise((r) => setTimeout(r, 150));
      expect(log.cosignerWaitMs() - before).toBeGreaterThanOrEqual(145);
      release!();
      await integrated;
      const after = log.cosignerWaitMs();
      await new Promise((r) => setTimeout(r, 100));
      // The clock stops once the step is over.
      expect(log.cosignerWaitMs()).toBe(after);
    } finally {
      release!();
      await log.close();
    }
  });
});
