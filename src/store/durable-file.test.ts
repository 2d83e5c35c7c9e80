import {
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  WriteOnceFileBatch,
  settleAll,
  settleEach,
  unwritten,
  writevAll,
  writevAllNow,
} from "./durable-file.js";

const b = (s: string) => Buffer.from(s);
const text = (bufs: Uint8Array[]) => Buffer.concat(bufs).toString();

describe("durable files", () => {
  it("computes what a partial vectored write left, at every split point", () => {
    const bufs = [b("abc"), b(""), b("de"), b("fghi")];
    for (let n = 0; n <= 9; n++) expect(text(unwritten(bufs, n)), `after ${n}`).toBe("abcdefghi".slice(n));
  });

  it("writes more buffers than one writev takes, in order", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-df-"));
    const file = path.join(dir, "f");
    const fd = openSync(file, "a");
    const parts = Array.from({ length: 3000 }, (_, i) => b(`${i}\n`));
    await writevAll(fd, parts);
    closeSync(fd);
    expect(readFileSync(file, "utf8")).toBe(text(parts));
    rmSync(dir, { recursive: true });
  });

  it("writes in this thread at a position, leaving the bytes around it alone", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-df-"));
    const file = path.join(dir, "f");
    writeFileSync(file, "0123456789");
    const fd = openSync(file, "r+");
    writevAllNow(fd, [b("ab"), b(""), b("cd")], 3);
    closeSync(fd);
    expect(readFileSync(file, "utf8")).toBe("012abcd789");
    rmSync(dir, { recursive: true });
  });

  it("runs at most `limit` calls at a time, in order, and fails with the first error after the rest settle", async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    let startedAtFailure = -1;
    const call = async (i: number) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5 - (i % 3)));
      running--;
      if (i === 4) {
        startedAtFailure = started.length;
        throw new Error(`call ${i} failed`);
      }
      return i * 10;
    };
    expect(await settleEach([0, 1, 2, 3], call, 2)).toEqual([0, 10, 20, 30]);
    expect(most).toBe(2);
    started.length = 0;
    await expect(settleEach([0, 1, 2, 3, 4, 5, 6, 7, 8], call, 2)).rejects.toThrow("call 4 failed");
    expect(running).toBe(0); // the call beside the failed one had finished
    expect(started.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toHaveLength(startedAtFailure); // none started after the failure
    expect(await settleEach([], call)).toEqual([]);
  });

  it("writes a batch of files, creating their directories, and rewrites a torn one whole", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-df-"));
    const batch = new WriteOnceFileBatch();
    batch.add(path.join(dir, "a", "x"), b("one"));
    batch.add(path.join(dir, "a", "y"), b("two"));
    await batch.commit({ sync: true });
    expect(readFileSync(path.join(dir, "a", "x"), "utf8")).toBe("one");
    expect(readFileSync(path.join(dir, "a", "y"), "utf8")).toBe("two");
    writeFileSync(path.join(dir, "a", "x"), "onetorn-and-longer");
    const before = statSync(path.join(dir, "a", "x")).ino;
    const again = new WriteOnceFileBatch();
    again.add(path.join(dir, "a", "x"), b("one"));
    await again.commit({ sync: false });
    expect(readFileSync(path.join(dir, "a", "x"), "utf8")).toBe("one");
    // Replaced by a rename, never truncated in place: a crash meanwhile leaves the old file whole.
    expect(statSync(path.join(dir, "a", "x")).ino).not.toBe(before);
    expect(readdirSync(path.join(dir, "a")).sort()).toEqual(["x", "y"]);
    rmSync(dir, { recursive: true });
  });

  it("never shows a reader a file of the batch part-written", async () => {
    // The writer's full tile appears beside the partial a reader holding an older checkpoint
    // wants, and a static file server serves whatever is at a path: both must find it whole.
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-df-"));
    const file = path.join(dir, "t", "022");
    const data = Buffer.alloc(32 * 1024 * 1024, 7);
    const batch = new WriteOnceFileBatch();
    batch.add(file, data);
    const seen = new Set<number>();
    let done = false;
    const committing = batch.commit({ sync: false }).finally(() => (done = true));
    while (!done) {
      try {
        seen.add(statSync(file).size);
      } catch {
        seen.add(-1);
      }
      await new Promise((r) => setImmediate(r));
    }
    await committing;
    seen.add(statSync(file).size);
    expect([...seen].filter((n) => n !== -1 && n !== data.length)).toEqual([]);
    expect(seen.has(-1)).toBe(true); // the poll did run while the batch was being written
    rmSync(dir, { recursive: true });
  });

  it("settleAll waits for every promise and then throws the first failure", async () => {
    let slowDone = false;
    const slow = new Promise<void>((r) => setTimeout(() => ((slowDone = true), r()), 30));
    await expect(settleAll([Promise.reject(new Error("first")), slow])).rejects.toThrow("first");
    expect(slowDone).toBe(true);
  });
});
