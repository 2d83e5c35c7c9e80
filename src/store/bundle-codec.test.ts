// The at-rest form of a full bundle: seekable zstd frames of whole entries and a seek table.
// Every entry is found in the frame the table says, damage and hostile tables are LogError
// "corrupt" naming the file, a file of one frame without a table (as first stored) still reads,
// and the stored file is a standard zstd stream (`zstd -d` restores the bundle).
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { joinEntries, splitBundle } from "./bundle-format.js";
import {
  bundleFrames,
  compressBundle,
  decodeZstdBody,
  decompressBundle,
  decompressFrame,
  DEFAULT_ENTRIES_PER_FRAME,
} from "./bundle-codec.js";
import { compress } from "zstd-napi";
import { foreignSeekable } from "../../test/fixtures/foreign-seekable.js";
import { seededRandom as rng } from "../../test/fixtures/seed.js";
import { BUNDLE_SIZE, LogError, MAX_BUNDLE_BYTES } from "./types.js";

const SEED = 24_2026;
console.log(`bundle-codec test seed ${SEED}`);

/** 256 entries of varied sizes (a few bytes to tens of KiB), some empty (erased). */
function bundle(seed = SEED): Buffer {
  const r = rng(seed);
  const entries = Array.from({ length: BUNDLE_SIZE }, (_, i) => {
    if (i % 97 === 5) return Buffer.alloc(0);
    const pad = "x".repeat(Math.floor(r() * r() * 6_000));
    return Buffer.from(
      JSON.stringify({ i, verb: ["get", "list", "patch"][i % 3], user: `u${Math.floor(r() * 9)}`, pad }),
    );
  });
  return joinEntries(entries);
}

const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

/** Rewrites the seek table entry `i` of stored bundle `data` (compressed and decompressed sizes). */
function withTableEntry(data: Buffer, i: number, compressed: number, decompressed: number): Buffer {
  const out = Buffer.from(data);
  const count = out.readUInt32LE(out.length - 9);
  const at = out.length - 9 - count * 8 + i * 8;
  out.writeUInt32LE(compressed >>> 0, at);
  out.writeUInt32LE(decompressed >>> 0, at + 4);
  return out;
}

function expectCorrupt(fn: () => unknown, where: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LogError);
  expect((err as LogError).code).toBe("corrupt");
  expect((err as LogError).message).toContain(where);
}

describe("seekable bundles", () => {
  it("round-trips and finds every entry in the frame the seek table says, for every frame size", () => {
    const raw = bundle();
    const lines = splitBundle(raw);
    for (const perFrame of [1, 2, 16, 64, 128, 256]) {
      const stored = compressBundle(raw, 3, perFrame);
      expect(decompressBundle(stored, "b").equals(raw)).toBe(true);
      const table = bundleFrames(stored, "b");
      expect(table.entriesPerFrame).toBe(perFrame);
      expect(table.frames).toHaveLength(BUNDLE_SIZE / perFrame);
      expect(table.contentSize).toBe(raw.length);
      const frames = table.frames.map((f, k) => splitBundle(decompressFrame(stored, f, "b", k)));
      for (let i = 0; i < BUNDLE_SIZE; i++) {
        const frame = frames[Math.floor(i / perFrame)]!;
        expect(frame).toHaveLength(perFrame);
        expect(Buffer.from(frame[i % perFrame]!).equals(lines[i]!)).toBe(true);
      }
    }
  });

  it("reads another writer's seekable file, frames not cut on entries, whole", () => {
    const raw = bundle();
    const stored = foreignSeekable(raw, [1000, 50_000]);
    const table = bundleFrames(stored, "foreign");
    expect(table).toMatchObject({ entriesPerFrame: 0, contentSize: raw.length });
    expect(table.frames).toHaveLength(3);
    expect(decompressBundle(stored, "foreign").equals(raw)).toBe(true);
  });

  it("refuses a frame size that does not divide a bundle", () => {
    expect(() => compressBundle(bundle(), 3, 3)).toThrow(RangeError);
    expect(() => compressBundle(bundle(), 3, 0)).toThrow(RangeError);
  });

  it("reads a bundle stored as one frame without a seek table (as first stored)", () => {
    const raw = bundle();
    const old = compress(raw, { compressionLevel: 3, checksumFlag: true });
    const table = bundleFrames(old, "old");
    expect(table).toMatchObject({ entriesPerFrame: BUNDLE_SIZE, contentSize: raw.length });
    expect(table.frames).toHaveLength(1);
    expect(decompressBundle(old, "old").equals(raw)).toBe(true);
  });

  it("is a standard zstd stream: a streaming decoder and `zstd -d` give the bundle back", async () => {
    const raw = bundle();
    const stored = compressBundle(raw);
    expect((await decodeZstdBody(stored)).equals(raw)).toBe(true);
    // Debian's zstd (scripts/system-deps.sh installs it).
    expect(execFileSync("zstd", ["-d", "-c", "-q"], { input: stored, maxBuffer: 64 << 20 }).equals(raw)).toBe(
      true,
    );
    // And its seekable reader agrees on the frames: zstd -l lists them with the skippable one.
    expect(execFileSync("zstd", ["-t", "-q"], { input: stored })).toBeDefined();
  });

  it("decodes an HTTP body of sized frames at once, and any other zstd body through a stream, bounded alike", async () => {
    const raw = bundle();
    // kubetrail's own: frames that declare their sizes, and a seek table (a skippable frame).
    const stored = compressBundle(raw, 3, DEFAULT_ENTRIES_PER_FRAME);
    expect((await decodeZstdBody(stored)).equals(raw)).toBe(true);
    await expect(decodeZstdBody(stored, raw.length - 1)).rejects.toThrow(/more than/);
    // Frames made from a pipe (Debian's zstd reading stdin) declare no size: the streaming path.
    const piped = execFileSync("sh", ["-c", "cat | zstd -q -c"], { input: raw, maxBuffer: 64 << 20 });
    expect((await decodeZstdBody(Buffer.concat([piped, piped]))).equals(Buffer.concat([raw, raw]))).toBe(
      true,
    );
    await expect(decodeZstdBody(piped, raw.length - 1)).rejects.toThrow(/more than/);
    // A frame whose blocks are damaged, or trailing bytes that are no frame: an error, never a partial body.
    const bad = Buffer.from(stored);
    bad[40] = bad[40]! ^ 0x5a;
    await expect(decodeZstdBody(bad)).rejects.toThrow();
    await expect(decodeZstdBody(Buffer.concat([stored, Buffer.from("garbage!")]))).rejects.toThrow();
  });

  it("finds damage to any frame, naming the file and the frame", () => {
    const raw = bundle();
    const stored = compressBundle(raw, 3, DEFAULT_ENTRIES_PER_FRAME);
    const { frames } = bundleFrames(stored, "tile/entries/000.zst");
    const r = rng(SEED + 1);
    for (const [k, frame] of frames.entries()) {
      const bad = Buffer.from(stored);
      // A byte inside the frame's compressed blocks (past its header).
      const at = frame.offset + 8 + Math.floor(r() * (frame.size - 12));
      bad[at] = bad[at]! ^ 0x5a;
      expectCorrupt(
        () => decompressFrame(bad, bundleFrames(bad, "f").frames[k]!, "tile/entries/000.zst", k),
        "tile/entries/000.zst",
      );
      expectCorrupt(() => decompressBundle(bad, "tile/entries/000.zst"), "tile/entries/000.zst");
    }
  });

  it("refuses hostile seek tables: sizes not adding up, overlapping, past the file, huge, odd counts", () => {
    const stored = compressBundle(bundle(), 3, 64);
    const { frames } = bundleFrames(stored, "t");
    const f0 = frames[0]!;
    const f1 = frames[1]!;
    const cases: [string, Buffer][] = [
      ["frames shorter than the file", withTableEntry(stored, 0, f0.size - 1, f0.contentSize)],
      ["frames longer than the file", withTableEntry(stored, 0, f0.size + 1, f0.contentSize)],
      // Frame 0 claims frame 1's bytes too, frame 1 then starts inside frame 2.
      ["overlapping", withTableEntry(withTableEntry(stored, 0, f0.size + f1.size, f0.contentSize), 1, 1, 1)],
      ["a frame of zero bytes", withTableEntry(stored, 1, 0, f1.contentSize)],
      ["a decompressed size other than the frame's", withTableEntry(stored, 0, f0.size, f0.contentSize + 1)],
      ["a huge decompressed size", withTableEntry(stored, 0, f0.size, 0xffffffff)],
      ["a huge compressed size", withTableEntry(stored, 0, 0xffffffff, f0.contentSize)],
    ];
    const count = (n: number): Buffer => {
      const out = Buffer.from(stored);
      out.writeUInt32LE(n, out.length - 9);
      return out;
    };
    cases.push(["3 frames", count(3)], ["0 frames", count(0)], ["a billion frames", count(1e9)]);
    const reserved = Buffer.from(stored);
    reserved[reserved.length - 5] = 0x04;
    cases.push(["reserved bits", reserved]);
    const skippable = Buffer.from(stored);
    skippable.writeUInt32LE(0x184d2a50, skippable.length - 9 - 4 * 8 - 8);
    cases.push(["the seek table's frame header", skippable]);
    cases.push(["cut short", stored.subarray(0, stored.length - 20)]);
    cases.push(["the table alone", stored.subarray(stored.length - 9 - 4 * 8 - 8)]);
    for (const [what, bad] of cases) {
      expectCorrupt(() => {
        const t = bundleFrames(bad, `hostile (${what})`);
        t.frames.forEach((f, k) => decompressFrame(bad, f, `hostile (${what})`, k));
      }, `hostile (${what})`);
    }
  });

  it("refuses two frames smuggled into one slot of the table, before allocating for them", () => {
    const raw = bundle();
    const stored = compressBundle(raw, 3, 128);
    const { frames } = bundleFrames(stored, "t");
    // Frame 0 followed by a frame declaring far more than a bundle, listed as one frame.
    const big = compress(Buffer.alloc(1 << 20), { compressionLevel: 1 });
    big.writeUInt8(big[4]!, 4);
    const first = stored.subarray(0, frames[0]!.size);
    const table = Buffer.concat([
      u32le(0x184d2a5e),
      u32le(2 * 8 + 9),
      u32le(first.length + big.length),
      u32le(frames[0]!.contentSize),
      u32le(frames[1]!.size),
      u32le(frames[1]!.contentSize),
      u32le(2),
      Buffer.from([0]),
      u32le(0x8f92eab1),
    ]);
    const bad = Buffer.concat([
      first,
      big,
      stored.subarray(frames[1]!.offset, frames[1]!.offset + frames[1]!.size),
      table,
    ]);
    expectCorrupt(() => decompressBundle(bad, "smuggled"), "not one zstd frame");
  });

  it("refuses a single frame declaring more than a bundle holds, or no size", () => {
    const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x00, ...u32le(0), ...u32le(1)]);
    header.writeUInt32LE(0, 6);
    header.writeUInt32LE(64, 10);
    expectCorrupt(() => decompressBundle(header, "huge"), "more than a bundle holds");
    const sizeless = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00]);
    expectCorrupt(() => decompressBundle(sizeless, "sizeless"), "does not declare its size");
    expect(MAX_BUNDLE_BYTES).toBeGreaterThan(0);
  });
});
