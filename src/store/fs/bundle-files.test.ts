import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { joinEntries } from "../bundle-format.js";
import { BundleFiles } from "./bundle-files.js";
import { FsLayout } from "./layout.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entries = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => Buffer.from(JSON.stringify({ auditID: `id-${from + i}` })));

describe("bundle files", () => {
  it("keeps queued entries through a failed write, refuses meanwhile, and writes them once it can", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-bundles-"));
    dirs.push(dir);
    const layout = new FsLayout(dir);
    // A directory where bundle 1's file must go: creating it fails (EISDIR) until removed.
    mkdirSync(layout.openBundle(1), { recursive: true });
    const written: [number, number][] = [];
    const files = new BundleFiles(layout, (first, count) => written.push([first, count]));
    await files.recover(0, true);
    const batch = entries(0, 300);
    files.enqueue(0, batch, joinEntries(batch));

    await expect(files.untilWritten(300)).rejects.toThrow(/write failed/);
    expect(files.error?.code).toBe("io");
    // Rolled back whole: bundle 0 does not keep the first 256 of a batch that failed.
    expect(files.size).toBe(0);
    expect(written).toEqual([]);

    rmSync(layout.openBundle(1), { recursive: true });
    const deadline = Date.now() + 5_000;
    while (files.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await files.untilWritten(300);
    expect(files.error).toBeNull();
    expect(written).toEqual([[0, 300]]);

    expect(await files.sync()).toBe(300);
    expect(readFileSync(layout.entriesDurable, "utf8")).toBe("300\n");
    // Bundle 0 is full and synced: moved to its final path, exactly the first 256 lines.
    expect(readFileSync(layout.bundle(0))).toEqual(joinEntries(batch.slice(0, 256)));
    expect(readFileSync(layout.openBundle(1))).toEqual(joinEntries(batch.slice(256)));
    await files.close();
  });

  it("syncs every entry written before the call, also while an earlier sync is under way", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-bundles-"));
    dirs.push(dir);
    const files = new BundleFiles(new FsLayout(dir), () => undefined);
    await files.recover(0, true);
    const big = entries(0, 2_000);
    files.enqueue(0, big, joinEntries(big));
    await files.untilWritten(2_000);
    const earlier = files.sync(); // eight bundle files to sync: still going below
    const one = entries(2_000, 1);
    files.enqueue(2_000, one, joinEntries(one));
    await files.untilWritten(2_001);
    expect(await files.sync()).toBe(2_001);
    expect(await earlier).toBeGreaterThanOrEqual(2_000);
    expect(files.syncedSize).toBe(2_001);
    await files.close();
  });
});
