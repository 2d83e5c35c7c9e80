import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WitnessError } from "./errors.js";
import { SyncThread } from "./sync-thread.js";

describe("SyncThread", () => {
  let dir = "";
  const threads: SyncThread[] = [];
  afterEach(async () => {
    for (const t of threads.splice(0)) await t.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("syncs a real file, answers each sync in order, and reports a failing one with its code", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-sync-"));
    const fd = openSync(path.join(dir, "f"), "a+");
    const thread = new SyncThread();
    threads.push(thread);
    const order: number[] = [];
    writeSync(fd, "x".repeat(1000));
    await Promise.all([1, 2, 3].map((i) => thread.fdatasync(fd).then(() => order.push(i))));
    expect(order).toEqual([1, 2, 3]);
    closeSync(fd);
    // No such descriptor: the thread's fdatasync fails, and the next one still works.
    await expect(thread.fdatasync(2 ** 30)).rejects.toMatchObject({ code: "EBADF" });
    const fd2 = openSync(path.join(dir, "g"), "a+");
    await expect(thread.fdatasync(fd2)).resolves.toBeUndefined();
    closeSync(fd2);
  });

  it("refuses syncs once its thread is gone, as an io error", async () => {
    const thread = new SyncThread();
    await thread.close();
    const refused = thread.fdatasync(0);
    await expect(refused).rejects.toBeInstanceOf(WitnessError);
    await expect(refused).rejects.toMatchObject({ code: "io", message: "the sync thread stopped (closed)" });
  });
});
