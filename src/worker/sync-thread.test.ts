import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SyncThread } from "./sync-thread.js";

describe("SyncThread", () => {
  let dir = "";
  const threads: SyncThread[] = [];
  afterEach(async () => {
    for (const t of threads.splice(0)) await t.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("syncs real files, answers each call in order, and reports a failing sync with its code", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-sync-"));
    const a = openSync(path.join(dir, "a"), "a+");
    const b = openSync(path.join(dir, "b"), "a+");
    const thread = new SyncThread("test sync thread");
    threads.push(thread);
    writeSync(a, "x".repeat(1000));
    writeSync(b, "y".repeat(1000));
    const order: number[] = [];
    await Promise.all([a, b, a].map((fd, i) => thread.fdatasync(fd).then(() => order.push(i + 1))));
    expect(order).toEqual([1, 2, 3]);
    closeSync(b);
    // A descriptor that is not open: that call fails with the system's code, the next works.
    await expect(thread.fdatasync(b)).rejects.toMatchObject({ code: "EBADF" });
    await expect(thread.fdatasync(a)).resolves.toBeUndefined();
    closeSync(a);
  });

  it("fails syncs once closed, with the thread's name", async () => {
    const thread = new SyncThread("test sync thread");
    await thread.close();
    await expect(thread.fdatasync(0)).rejects.toThrow("test sync thread stopped (closed)");
  });
});
