// Compression at rest: sealed bundles become seekable zstd frames, reads give the same bytes
// whichever form a bundle is in (plain, one frame as first stored, seekable frames), reading some
// entries decompresses only their frames, a directory of plain or single-frame bundles is
// converted, and every state a crash can leave mid-conversion still reads and converts.
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { newVerifier } from "../../tlog/index.js";
import { verifyLog } from "../../verify/verify-log.js";
import { compress } from "zstd-napi";
import {
  bundleFrames,
  compressBundle,
  decompressBundle,
  DEFAULT_ENTRIES_PER_FRAME,
  SEEK_TABLE_READ_BYTES,
} from "../bundle-codec.js";
import { splitBundle } from "../bundle-format.js";
import { foreignSeekable } from "../../../test/fixtures/foreign-seekable.js";
import { openLogReader } from "../log-reader.js";
import { LogError, type LogEntry } from "../types.js";
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
      // Standard zstd frames that declare their sizes, then the seek table.
      expect(stored.readUInt32LE(0)).toBe(0xfd2fb528);
      expect(stored.readUInt32LE(stored.length - 4)).toBe(0x8f92eab1);
      expect(bundleFrames(stored, "test").frames).toHaveLength(256 / DEFAULT_ENTRIES_PER_FRAME);
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

  it("reads entries from their frames alone: a damaged frame fails only the entries it holds", async () => {
    const { dir, layout, verifierKey } = await plainLog(600);
    const log = await openFsLog(dir);
    await log.driver.compactAll();
    await log.close();
    const stored = readFileSync(layout.compressedBundle(0));
    const { frames, entriesPerFrame } = bundleFrames(stored, "test");
    const damaged = 3;
    const frame = frames[damaged]!;
    stored[frame.offset + Math.floor(frame.size / 2)]! ^= 0x5a;
    writeFileSync(layout.compressedBundle(0), stored);
    const reader = await openLogReader(new FsLogFiles(dir), newVerifier(verifierKey));
    const read = async (start: number, end: number): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of reader.readEntries(start, end)) out.push(Buffer.from(e.data!).toString());
      return out;
    };
    // Every entry outside the damaged frame reads (that frame is never decompressed for them).
    const before = damaged * entriesPerFrame;
    const after = (damaged + 1) * entriesPerFrame;
    expect(await read(0, before)).toEqual(events(0, before).map(String));
    expect(await read(after, 600)).toEqual(events(after, 600 - after).map(String));
    expect(await read(before - 1, before)).toEqual([String(event(before - 1))]);
    // An entry inside it is damage naming the file and the frame, never a wrong entry.
    for (const i of [before, before + 7, after - 1]) {
      const err = await read(i, i + 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LogError);
      expect((err as LogError).code).toBe("corrupt");
      expect((err as LogError).message).toContain(`tile/entries/000.zst: frame ${damaged}`);
    }
    // A whole-bundle reader (verify) finds it too.
    const report = await verifyLog(new FsLogFiles(dir), { verifierKey });
    expect(report.problems[0]).toMatchObject({ code: "unreadable", index: 0 });
  });

  it("reads one entry with the seek table and its frame alone, and again from the cache", async () => {
    const { dir, layout } = await plainLog(600);
    const log = await openFsLog(dir);
    await log.driver.compactAll();
    await log.close();
    const stored = readFileSync(layout.compressedBundle(1));
    const { frames, entriesPerFrame } = bundleFrames(stored, "test");
    const files = new FsLogFiles(dir);
    const entry = 256 + 5 * entriesPerFrame + 3;
    const one = await files.readEntrySpan(1, entry - 256, entry - 255);
    expect(Buffer.from(one!.data!).toString()).toBe(`${String(event(entry))}\n`);
    // The seek table (read from the end, at most a fixed tail) and frame 5: a fraction of the file.
    const tableRead = Math.min(stored.length, SEEK_TABLE_READ_BYTES);
    expect(files.compressedRead.bytes).toBe(tableRead + frames[5]!.size);
    expect(files.compressedRead.bytes).toBeLessThan(stored.length / 2);
    expect(files.decompressed.frames).toBe(1);
    // Read again: the frame is cached and the file is not read at all.
    await files.readEntrySpan(1, entry - 256, entry - 255);
    expect(files.compressedRead.bytes).toBe(tableRead + frames[5]!.size);
    // A span across frames reads the frames it lacks in one read from the first missing one.
    const span = await files.readEntrySpan(1, 4 * entriesPerFrame, 7 * entriesPerFrame);
    expect(splitBundle(span!.data!)).toHaveLength(3 * entriesPerFrame);
    expect(files.decompressed.frames).toBe(3);
  });

  it("reads a bundle rewritten under a reader (erasure) from the new file, not the cache", async () => {
    const { dir, layout } = await plainLog(300);
    const raw = readFileSync(layout.bundle(0));
    const log = await openFsLog(dir);
    await log.driver.compactAll();
    await log.close();
    const files = new FsLogFiles(dir);
    const line = (data: Uint8Array, i: number) => Buffer.from(splitBundle(data)[i]!).toString();
    expect(line((await files.readEntrySpan(0, 40, 41))!.data!, 0)).toBe(String(event(40)));
    // Another file in its place, cut into frames of another size, entry 40 emptied.
    const lines = splitBundle(raw).map((l, i) => (i === 40 ? Buffer.alloc(0) : Buffer.from(l)));
    const rewritten = Buffer.concat(lines.map((l) => Buffer.concat([l, Buffer.from("\n")])));
    const tmp = `${layout.compressedBundle(0)}.tmp`;
    writeFileSync(tmp, compressBundle(rewritten, 3, 8));
    renameSync(tmp, layout.compressedBundle(0));
    expect((await files.readEntrySpan(0, 40, 41))!.data!.length).toBe(1);
    expect(line((await files.readEntrySpan(0, 41, 42))!.data!, 0)).toBe(String(event(41)));
    expect(Buffer.from((await files.readEntryBundle(0, 256))!.data!)).toEqual(rewritten);
  });

  it("reads a directory mixing plain, single-frame and seekable bundles, entry by entry and whole", async () => {
    const size = 256 * 4 + 40;
    const { dir, layout, verifierKey } = await plainLog(size);
    const want = await readAll(new FsLogFiles(dir), size);
    const stored = (b: number, data: Buffer): void => {
      writeFileSync(layout.compressedBundle(b), data);
      rmSync(layout.bundle(b));
    };
    // 0: one frame without a seek table (as stored before); 1: plain; 2: seekable frames;
    // 3: another writer's seekable file (frames cut anywhere, read whole).
    stored(0, compress(readFileSync(layout.bundle(0)), { checksumFlag: true }));
    stored(2, compressBundle(readFileSync(layout.bundle(2)), 3, 8));
    stored(3, foreignSeekable(readFileSync(layout.bundle(3)), [777, 20_000]));
    const files = new FsLogFiles(dir);
    expect(await readAll(files, size)).toEqual(want);
    const reader = await openLogReader(files, newVerifier(verifierKey));
    // Every span shape: inside a frame, across frames and bundles, to the open bundle.
    const spans: [number, number][] = [
      [0, 1],
      [255, 257],
      [300, 301],
      [509, 530],
      [517, 518],
      [700, 808],
      [790, 1030],
      [1000, 1064],
      [5, size],
    ];
    for (const [start, end] of spans) {
      const got: string[] = [];
      for await (const e of reader.readEntries(start, end)) got.push(Buffer.from(e.data!).toString());
      expect(got, `entries ${start}–${end}`).toEqual(events(start, end - start).map(String));
    }
    // And each single entry, read again from the frame cache.
    for (let i = 0; i < size; i += 37) {
      for await (const e of reader.readEntries(i, i + 1))
        expect(Buffer.from(e.data!).toString()).toBe(String(event(i)));
    }
    expect((await verifyLog(new FsLogFiles(dir), { verifierKey })).ok).toBe(true);
  });

  it("`compact` rewrites single-frame bundles into seekable frames; serve's background pass leaves them", async () => {
    const { dir, layout, verifierKey } = await plainLog(256 * 3);
    const want = await readAll(new FsLogFiles(dir), 256 * 3);
    for (const b of [0, 1]) {
      writeFileSync(
        layout.compressedBundle(b),
        compress(readFileSync(layout.bundle(b)), { checksumFlag: true }),
      );
      rmSync(layout.bundle(b));
    }
    let log = await openFsLog(dir);
    const background = await log.driver.compactAll();
    await log.close();
    expect(background).toMatchObject({ bundles: 1, reframed: 0 });
    expect(bundleFrames(readFileSync(layout.compressedBundle(0)), "0").frames).toHaveLength(1);

    log = await openFsLog(dir);
    const stats = await log.driver.compactAll({ reframe: true });
    await log.close();
    expect(stats).toMatchObject({ bundles: 0, reframed: 2 });
    for (const b of [0, 1, 2]) {
      expect(bundleFrames(readFileSync(layout.compressedBundle(b)), String(b)).entriesPerFrame).toBe(
        DEFAULT_ENTRIES_PER_FRAME,
      );
    }
    expect(await readAll(new FsLogFiles(dir), 256 * 3)).toEqual(want);
    expect((await verifyLog(new FsLogFiles(dir), { verifierKey })).ok).toBe(true);
    // Nothing left to do: a second run changes nothing.
    log = await openFsLog(dir);
    expect(await log.driver.compactAll({ reframe: true })).toMatchObject({ bundles: 0, reframed: 0 });
    await log.close();
  });
});
