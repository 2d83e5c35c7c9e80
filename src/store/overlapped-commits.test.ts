// One group's sync overlaps the next group's write (group-commit.ts): groups are still
// acknowledged in log order, and a failed sync fails its group and every group written after
// it, after which the log writes the same indexes again, so a crash then brings back neither.
// Real fs logs; the driver's sync is held or failed from the test.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PendingEntries } from "./driver.js";
import { openFsLog } from "./fs/storage.js";
import { LogError, type AuditLog } from "./types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kt-overlap-"));
  dirs.push(dir);
  return dir;
}

const entry = (name: string) => Buffer.from(JSON.stringify({ kind: "Event", name }));

interface Write {
  first: number;
  names: string[];
  synced: boolean;
}

/**
 * Records each write of the log's driver; `hold(name)` makes the sync of the write holding that
 * entry wait for the returned release (which may fail it instead).
 */
function instrument(log: AuditLog & { driver: { writeEntries: unknown } }) {
  const writes: Write[] = [];
  const held = new Map<string, Promise<Error | null>>();
  const driver = log.driver as {
    writeEntries(first: number, entries: readonly Uint8Array[], joined: Uint8Array): Promise<PendingEntries>;
  };
  const real = driver.writeEntries.bind(driver);
  driver.writeEntries = async (first, entries, joined) => {
    const pending = await real(first, entries, joined);
    const names = entries.map((e) => (JSON.parse(Buffer.from(e).toString()) as { name: string }).name);
    const w: Write = { first, names, synced: false };
    writes.push(w);
    const gate = names.map((n) => held.get(n)).find((g) => g !== undefined);
    return {
      sync: async () => {
        await pending.sync();
        const failure = gate ? await gate : null;
        if (failure) throw failure;
        w.synced = true;
      },
      acknowledged: () => pending.acknowledged(),
    };
  };
  const releases: (() => void)[] = [];
  const hold = (name: string): ((failure?: Error) => void) => {
    let release!: (failure: Error | null) => void;
    held.set(name, new Promise((r) => (release = r)));
    releases.push(() => release(null));
    return (failure) => release(failure ?? null);
  };
  /** Lets every held sync go (a failed test must still close its log). */
  const releaseAll = (): void => releases.forEach((r) => r());
  return { writes, hold, releaseAll };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe("overlapped commits", () => {
  it("write the next group while a sync runs, and acknowledge the groups in log order", async () => {
    const log = await openFsLog(tempDir(), { integrateIntervalMs: 3_600_000 });
    const { writes, hold, releaseAll } = instrument(log);
    try {
      const releaseA = hold("a");
      const order: string[] = [];
      const a = log.append([entry("a")]).then((r) => (order.push("a"), r));
      await until("a's write", () => writes.length === 1);
      const b = log.append([entry("b"), entry("c")]).then((r) => (order.push("b"), r));
      // b is written, and durable, while a's sync is still held...
      await until("b's write and sync", () => writes.length === 2 && writes[1]!.synced);
      expect(writes.map((w) => [w.first, w.names])).toEqual([
        [0, ["a"]],
        [1, ["b", "c"]],
      ]);
      // ...but not acknowledged before a.
      await new Promise((r) => setTimeout(r, 20));
      expect(order).toEqual([]);
      expect(log.size()).toBe(0);
      releaseA();
      expect(await a).toEqual({ firstIndex: 0 });
      expect(await b).toEqual({ firstIndex: 1 });
      expect(order).toEqual(["a", "b"]);
      expect(log.size()).toBe(3);
      const read: string[] = [];
      for await (const e of log.readEntries(0, 3)) read.push(Buffer.from(e.data!).toString());
      expect(read).toEqual(["a", "b", "c"].map((n) => entry(n).toString()));
    } finally {
      releaseAll();
      await log.close();
    }
  });

  it("fail every group written after a failed sync, rewind, and bring neither back after a crash", async () => {
    const dir = tempDir();
    const log = await openFsLog(dir, { integrateIntervalMs: 3_600_000 });
    await log.append([entry("before")]);
    const { writes, hold, releaseAll } = instrument(log);
    try {
      const releaseA = hold("a1");
      const a = log.append([entry("a1"), entry("a2"), entry("a3")]);
      await until("a's write", () => writes.length === 1);
      const b = log.append([entry("b1"), entry("b2")]);
      await until("b's sync", () => writes.length === 2 && writes[1]!.synced);
      releaseA(new LogError("io", "injected: fdatasync failed"));
      await expect(a).rejects.toThrow(/injected/);
      // b's own sync succeeded, but it was written after a: it fails with a.
      await expect(b).rejects.toThrow(/injected/);
      expect(log.size()).toBe(1);
      // Written where a began, not after b.
      expect(await log.append([entry("c")])).toEqual({ firstIndex: 1 });
      expect(writes.map((w) => [w.first, w.names[0]])).toEqual([
        [1, "a1"],
        [4, "b1"],
        [1, "c"],
      ]);
      // A crash now (the directory as the kernel holds it): the write-ahead log holds a's, b's
      // and c's records; only c's may extend the log.
      const crashed = tempDir();
      cpSync(dir, crashed, { recursive: true });
      const reopened = await openFsLog(crashed, { integrateIntervalMs: 3_600_000 });
      try {
        expect(reopened.size()).toBe(2);
        const read: string[] = [];
        for await (const e of reopened.readEntries(0, 2)) read.push(Buffer.from(e.data!).toString());
        expect(read).toEqual([entry("before").toString(), entry("c").toString()]);
      } finally {
        await reopened.close();
      }
      expect(await log.append([entry("d")])).toEqual({ firstIndex: 2 });
    } finally {
      releaseAll();
      await log.close();
    }
    const again = await openFsLog(dir);
    try {
      const read: string[] = [];
      for await (const e of again.readEntries(0, again.size())) read.push(Buffer.from(e.data!).toString());
      expect(read).toEqual(["before", "c", "d"].map((n) => entry(n).toString()));
    } finally {
      await again.close();
    }
  });
});
