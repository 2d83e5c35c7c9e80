import { mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { WriteOnceFileBatch, settleAll, unwritten, writevAll } from "./durable-file.js";

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

  it("writes a batch of files, creating their directories, and rewrites a torn one whole", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kt-df-"));
    const batch = new WriteOnceFileBatch();
    batch.add(path.join(dir, "a", "x"), b("one"));
    batch.add(path.join(dir, "a", "y"), b("two"));
    await batch.commit({ sync: true });
    expect(readFileSync(path.join(dir, "a", "x"), "utf8")).toBe("one");
    expect(readFileSync(path.join(dir, "a", "y"), "utf8")).toBe("two");
    writeFileSync(path.join(dir, "a", "x"), "onetorn-and-longer");
    const again = new WriteOnceFileBatch();
    again.add(path.join(dir, "a", "x"), b("one"));
    await again.commit({ sync: false });
    expect(readFileSync(path.join(dir, "a", "x"), "utf8")).toBe("one");
    expect(readdirSync(path.join(dir, "a")).sort()).toEqual(["x", "y"]);
    rmSync(dir, { recursive: true });
  });

  it("settleAll waits for every promise and then throws the first failure", async () => {
    let slowDone = false;
    const slow = new Promise<void>((r) => setTimeout(() => ((slowDone = true), r()), 30));
    await expect(settleAll([Promise.reject(new Error("first")), slow])).rejects.toThrow("first");
    expect(slowDone).toBe(true);
  });
});
