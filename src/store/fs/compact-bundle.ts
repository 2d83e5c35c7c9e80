// Turns one full entry bundle file into its compressed form, so that a crash at any point
// leaves at least one complete copy that readers find:
//
//   1. compress the plain file's bytes and check they decompress to the same bytes;
//   2. write them to a temporary file, fdatasync it, rename it to `<N>.zst`, fsync the directory;
//   3. remove the plain file.
//
// Readers look at `<N>.zst` first and at `<N>` after, so a crash between 2 and 3 leaves both
// (the same bytes), and the next pass removes the plain file. A `<N>.zst` that is already there
// and decompresses is the truth (erasure rewrites it before removing the plain file), so the
// plain file beside it is removed without being compressed again. Synchronous: it runs on the
// compaction worker thread (compact-worker.ts), or on the caller's in tests.
//
// A bundle compressed before bundles were cut into seekable frames (one frame, no seek table)
// is read as it is; `reframeBundleFile` rewrites it into frames (`kubetrail compact` does, for
// a stopped log), replacing the file by rename so that either version is there at any moment.
import fs from "node:fs";
import path from "node:path";
import {
  bundleFrames,
  compressBundle,
  decompressBundle,
  DEFAULT_ENTRIES_PER_FRAME,
} from "../bundle-codec.js";
import { tempPathFor } from "../durable-file.js";
import type { FsLayout } from "./layout.js";

export type CompactOutcome =
  /** The plain file was compressed (or, when a valid compressed file was there, removed). */
  | { state: "compacted"; plainBytes: number; compressedBytes: number }
  /** A compressed bundle of one frame was rewritten in seekable frames. */
  | { state: "reframed"; plainBytes: number; compressedBytes: number }
  /** No plain file: already compressed, pruned, or not full yet. */
  | { state: "absent" };

/** The file's bytes, or null when there is no such file. */
export function readIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a compressed bundle is there and decompresses (its frame checksum included). */
function validCompressed(file: string): Buffer | null {
  const data = readIfExists(file);
  if (data === null) return null;
  try {
    decompressBundle(data, file);
    return data;
  } catch {
    return null;
  }
}

/** Writes `data` to `file` by way of a temporary file, durably (contents and directory entry). */
export function replaceFileSync(file: string, data: Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = tempPathFor(file);
  const fd = fs.openSync(tmp, "w", 0o644);
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirSync(dir);
}

/** `plain` compressed into seekable frames, checked to decompress to the same bytes. */
function compressChecked(plain: Buffer, level: number, perFrame: number, file: string, kept: string): Buffer {
  const compressed = compressBundle(plain, level, perFrame);
  if (!decompressBundle(compressed, file).equals(plain)) {
    throw new Error(`${file}: compressing did not round-trip; ${kept} is kept`);
  }
  return compressed;
}

/** Compresses full bundle `index` in place (see the file comment); `level` is zstd's. */
export function compactBundleFile(
  layout: FsLayout,
  index: number,
  level: number,
  perFrame = DEFAULT_ENTRIES_PER_FRAME,
): CompactOutcome {
  const plainFile = layout.bundle(index);
  const plain = readIfExists(plainFile);
  if (plain === null) return { state: "absent" };
  const compressedFile = layout.compressedBundle(index);
  let compressed = validCompressed(compressedFile);
  if (compressed === null) {
    compressed = compressChecked(plain, level, perFrame, compressedFile, "the plain bundle");
    replaceFileSync(compressedFile, compressed);
  }
  fs.rmSync(plainFile, { force: true });
  return { state: "compacted", plainBytes: plain.length, compressedBytes: compressed.length };
}

/**
 * Compresses full bundle `index` as compactBundleFile does, and rewrites a compressed bundle cut
 * otherwise than in frames of `perFrame` entries (one frame without a seek table: as first
 * stored) into such frames. A compressed bundle that does not decompress is left as it is, for
 * verify to report.
 */
export function reframeBundleFile(
  layout: FsLayout,
  index: number,
  level: number,
  perFrame = DEFAULT_ENTRIES_PER_FRAME,
): CompactOutcome {
  const outcome = compactBundleFile(layout, index, level, perFrame);
  if (outcome.state !== "absent") return outcome;
  const file = layout.compressedBundle(index);
  const stored = readIfExists(file);
  if (stored === null) return outcome;
  let plain: Buffer;
  try {
    if (bundleFrames(stored, file).entriesPerFrame === perFrame) return outcome;
    plain = decompressBundle(stored, file);
  } catch {
    return outcome;
  }
  const compressed = compressChecked(plain, level, perFrame, file, "the single-frame bundle");
  replaceFileSync(file, compressed);
  return { state: "reframed", plainBytes: stored.length, compressedBytes: compressed.length };
}

/** Temporary files a pass left behind when the process died (`.<name>.<pid>.tmp`). */
export function isLeftoverTemp(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}
