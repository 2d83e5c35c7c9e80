// Compression at rest: sealed bundles become one zstd frame each, reads give the same bytes
// whichever form a bundle is in, a directory of plain bundles is converted, and every state a
// crash can leave mid-conversion still reads and converts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyLog } from "../../verify/verify-log.js";
import { compressBundle, decompressBundle } from "../bundle-codec.js";
import type { LogEntry } from "../types.js";
import { compactBundleFile } from "./compact-bundle.js";
import { FsLogFiles } from "./files.js";
import { FsLayout } from "./layout.js";
import { openFsLog } from "./storage.js";

const dirs: string[] = [];
function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kt-compact-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const event = (i: number) =>
  Buffer.from(
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      auditID: `0b0c${i.toString(16).padStart(8, "0")}`,
      stage: "ResponseComplete",
      verb: ["get", "list", "update"][i % 3],
      user: { username: `user-${i % 7}`, groups: ["system:authenticated"] },
      objectRef: { resource: "configmaps", namespace: `ns-${i % 5}`, name: `cm-${i}` },
    }),
  );
const events = (from: number, n: number) => Array.from({ length: n }, (_, i) => event(from + i));

async function readAll(files: FsLogFiles, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let b = 0; b * 256 < size; b++) {
    const got = await files.readEntryBundle(b, Math.min(256, size - b * 256));
    if (got?.data === undefined) throw new Error(`bundle ${b} unreadable`);
    out.push(Buffer.from(got.data));
  }
  return out;
}

/** A closed log of `n` events whose full bundles are plain (as before compression existed). */
async function plainLog(n: number): Promise<{ dir: string; layout: FsLayout; verifierKey: string }> {
  const dir = tmpDir();
  const log = await openFsLog(dir, { compressLevel: null });
  await log.append(events(0, n));
  await log.waitIntegrated(n);
  const verifierKey = log.verifierKey;
  await log.close();
  return { dir, layout: new FsLayout(dir), verifierKey };
}

describe("compression at rest", () => {
  it("compresses each bundle once it is sealed; reads, proofs and verify see the same bytes", async () => {
    const { dir, layout, verifierKey } = await plainLog(700);
    const before = await readAll(new FsLogFiles(dir), 700);
    const log = await openFsLog(dir);
    const stats = await log.driver.compactAll();
    expect(stats.bundles).toBe(2);
    // Sealed while open: bundle 2 fills and is compressed in the background.
    await log.append(events(700, 100));
    await log.waitIntegrated(800);
    await log.driver.compactor!.idle();
    expect(log.driver.compactor!.stats.bundles).toBe(3);
    await log.close();
    for (const b of [0, 1, 2]) {
      expect(existsSync(layout.bundle(b)), `bundle ${b} plain`).toBe(false);
      const stored = readFileSync(layout.compressedBundle(b));
      // A standard zstd frame that declares the bundle's size.
      expect(stored.readUInt32LE(0)).toBe(0xfd2fb528);
      expect(decompressBundle(stored, "test").length).toBeGreaterThan(stored.length * 4);
    }
    const after = await readAll(new FsLogFiles(dir), 800);
    expect(Buffer.concat(after.slice(0, 3)).subarray(0, Buffer.concat(before).length)).toEqual(
      Buffer.concat(before),
    );
    const report = await verifyLog(new FsLogFiles(dir), { verifierKey });
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, entries: 800 });
  });

  it("serves the stored frame as it is, and it decodes to the bundle", async () => {
    const { dir } = await plainLog(300);
    const log = await openFsLog(dir);
    await log.driver.compactAll();
    const encoded = await log.readEncodedBundle(0);
    const plain = await log.readEntryBundle(0, 256);
    expect(encoded?.encoding).toBe("zstd");
    expect(decompressBundle(encoded!.data, "test")).toEqual(Buffer.from(plain!.data!));
    // The open bundle and anything beyond the checkpoint are never served encoded.
    expect(await log.readEncodedBundle(1)).toBeNull();
    await log.close();
  });

  it("reads and finishes every state a crash can leave in the middle of converting", async () => {
    const { dir, layout, verifierKey } = await plainLog(256 * 5);
    const files = new FsLogFiles(dir);
    const want = await readAll(files, 256 * 5);
    const raw = (b: number) => readFileSync(layout.bundle(b));
    // 0: a temporary file half written, the plain bundle still there.
    writeFileSync(
      path.join(path.dirname(layout.bundle(0)), `.000.zst.4242.tmp`),
      compressBundle(raw(0)).subarray(0, 10),
    );
    // 1: compressed and renamed, the plain file not yet removed.
    writeFileSync(layout.compressedBundle(1), compressBundle(raw(1)));
    // 2: converted completely.
    expect(compactBundleFile(layout, 2, 3)).toMatchObject({ state: "compacted" });
    // 3: a compressed file torn by a power loss beside the intact plain one.
    writeFileSync(layout.compressedBundle(3), compressBundle(raw(3)).subarray(0, 40));
    // 4: untouched.
    expect(await readAll(new FsLogFiles(dir), 256 * 5)).toEqual(want);
    expect((await verifyLog(new FsLogFiles(dir), { verifierKey })).ok).toBe(true);

    const log = await openFsLog(dir);
    const stats = await log.driver.compactAll();
    await log.close();
    expect(stats.bundles).toBe(4); // 0, 1 (plain removed), 3 (rewritten), 4
    for (let b = 0; b < 5; b++) expect(existsSync(layout.bundle(b)), `plain bundle ${b}`).toBe(false);
    expect(existsSync(path.join(path.dirname(layout.bundle(0)), `.000.zst.4242.tmp`))).toBe(false);
    expect(await readAll(new FsLogFiles(dir), 256 * 5)).toEqual(want);
  });

  it("reports a damaged compressed bundle as damaged, naming its file", async () => {
    const { dir, layout, verifierKey } = await plainLog(300);
    const log = await openFsLog(dir);
    await log.driver.compactAll();
    await log.close();
    const stored = readFileSync(layout.compressedBundle(0));
    stored[stored.length - 6] = stored[stored.length - 6]! ^ 0xff;
    writeFileSync(layout.compressedBundle(0), stored);
    const report = await verifyLog(new FsLogFiles(dir), { verifierKey });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ code: "unreadable", index: 0 });
    expect(report.problems[0]!.message).toMatch(/tile\/entries\/000\.zst: /);
  });

  it("reads bundles through the log whichever form they are in", async () => {
    const dir = tmpDir();
    const log = await openFsLog(dir);
    await log.append(events(0, 600));
    await log.waitIntegrated(600);
    await log.driver.compactAll();
    const read: LogEntry[] = [];
    for await (const e of log.readEntries(250, 520)) read.push(e);
    expect(read.map((e) => Buffer.from(e.data!).toString())).toEqual(events(250, 270).map(String));
    await log.close();
  });
});
