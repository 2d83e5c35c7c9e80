// How full entry bundles are compressed at rest: the Zstandard seekable format (zstd's
// contrib/seekable_format): the bundle's entries cut into groups of a fixed number of whole
// entries, each group one independent zstd frame (RFC 8878) with its size in the header and a
// checksum, then a skippable frame holding the seek table (each frame's compressed and
// decompressed size). Reading one entry decompresses only the frame holding it; the file as a
// whole is still a standard `zstd` stream (frames decode to the concatenation of their
// contents, skippable frames are ignored), so it is served as it is to a client that accepts
// `Content-Encoding: zstd`, and `zstd -d` restores the bundle file.
//
// Smaller frames lose the repetition between the events of different frames: the number of
// entries per frame is a trade of ratio against the cost of reading one entry, measured in
// bench/storage.ts. Which entries a frame holds follows from the number of frames (a power of
// two dividing 256), so the seek table needs nothing beyond the published format. A file
// without a seek table is one frame holding the whole bundle (how bundles were stored first).
import { Compressor, Decompressor, DecompressStream } from "zstd-napi";
import { groupEnds } from "./bundle-format.js";
import { BUNDLE_SIZE, LogError, MAX_BUNDLE_BYTES, MAX_ENTRY_BYTES } from "./types.js";

/** The file suffix of a compressed bundle, and its HTTP content coding. */
export const COMPRESSED_SUFFIX = ".zst";
export const CONTENT_ENCODING = "zstd";

/**
 * The level bundles are compressed at when they are sealed: fast enough that compressing runs
 * well ahead of ingest on a spare core, and most of the ratio of the slow levels on audit JSON
 * (see bench/README.md, compression).
 */
export const DEFAULT_LEVEL = 3;

/**
 * Entries per frame of a bundle compressed at rest: reading one entry decompresses this many,
 * for a ratio a little below one frame per bundle (bench/README.md, frames per bundle).
 */
export const DEFAULT_ENTRIES_PER_FRAME = 32;

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_SEEK_TABLE_MAGIC = 0x184d2a5e;
const SEEKABLE_MAGIC = 0x8f92eab1;
/** Number_Of_Frames (4), Seek_Table_Descriptor (1), Seekable_Magic_Number (4). */
const FOOTER_BYTES = 9;
/** Skippable_Magic_Number (4) and Frame_Size (4). */
const SKIPPABLE_HEADER_BYTES = 8;
/** Skippable frames' magic numbers are this with any low nibble (RFC 8878 §3.1.2). */
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
const CHECKSUM_FLAG = 0x80;
const RESERVED_BITS = 0x7c;

/** One zstd frame of a stored bundle: where it is, and which bundle bytes it decompresses to. */
export interface BundleFrame {
  /** Offset and size of the frame in the stored file. */
  offset: number;
  size: number;
  /** Offset and size of its contents in the bundle. */
  contentOffset: number;
  contentSize: number;
}

/** The frames of a stored bundle and how many entries each holds (the last may hold fewer). */
export interface BundleFrames {
  frames: BundleFrame[];
  /**
   * Entries per frame: 256 ÷ the number of frames, or 0 when that is not a whole number (a
   * seekable file from elsewhere, a mirror's copy of another log's bundle): then only whole reads.
   */
  entriesPerFrame: number;
  /** The size of the whole bundle. */
  contentSize: number;
}

function u32(data: Uint8Array, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
}

function putU32(out: Buffer, at: number, value: number): void {
  out.writeUInt32LE(value >>> 0, at);
}

let compressors = new Map<number, Compressor>();

function compressor(level: number): Compressor {
  let c = compressors.get(level);
  if (c === undefined) {
    c = new Compressor();
    c.setParameters({ compressionLevel: level, checksumFlag: true, contentSizeFlag: true });
    if (compressors.size > 4) compressors = new Map();
    compressors.set(level, c);
  }
  return c;
}

/** Whether `n` entries per frame cut a bundle evenly: a power of two from 1 to the bundle's size. */
export function isEntriesPerFrame(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= BUNDLE_SIZE && BUNDLE_SIZE % n === 0;
}

/**
 * Compresses bundle bytes into frames of `entriesPerFrame` entries (a power of two dividing
 * 256) and a seek table. Each frame records its size and a checksum of its contents, so damage
 * to the stored file is found when it is read rather than passed on as entries.
 */
export function compressBundle(
  raw: Uint8Array,
  level = DEFAULT_LEVEL,
  entriesPerFrame = DEFAULT_ENTRIES_PER_FRAME,
): Buffer {
  if (!isEntriesPerFrame(entriesPerFrame)) {
    throw new RangeError(`entries per frame must divide ${BUNDLE_SIZE}, not ${entriesPerFrame}`);
  }
  const c = compressor(level);
  const frames: Buffer[] = [];
  const sizes: [number, number][] = [];
  let start = 0;
  for (const end of groupEnds(raw, entriesPerFrame)) {
    const frame = c.compress(raw.subarray(start, end));
    frames.push(frame);
    sizes.push([frame.length, end - start]);
    start = end;
  }
  const tableBytes = SKIPPABLE_HEADER_BYTES + sizes.length * 8 + FOOTER_BYTES;
  const table = Buffer.alloc(tableBytes);
  putU32(table, 0, SKIPPABLE_SEEK_TABLE_MAGIC);
  putU32(table, 4, tableBytes - SKIPPABLE_HEADER_BYTES);
  sizes.forEach(([compressed, decompressed], i) => {
    putU32(table, SKIPPABLE_HEADER_BYTES + i * 8, compressed);
    putU32(table, SKIPPABLE_HEADER_BYTES + i * 8 + 4, decompressed);
  });
  putU32(table, tableBytes - FOOTER_BYTES, sizes.length);
  table[tableBytes - 5] = 0;
  putU32(table, tableBytes - 4, SEEKABLE_MAGIC);
  return Buffer.concat([...frames, table]);
}

/**
 * The decompressed size a zstd frame header declares, or null when the frame does not say
 * (RFC 8878 §3.1.1.1). Throws when `data` does not start with a zstd frame.
 */
function frameContentSize(data: Uint8Array): number | null {
  return frameHeader(data).contentSize;
}

function frameHeader(data: Uint8Array): {
  headerBytes: number;
  contentSize: number | null;
  checksum: boolean;
} {
  if (data.length < 6) throw new Error("too short for a zstd frame");
  if (u32(data, 0) !== FRAME_MAGIC) throw new Error("not a zstd frame");
  const descriptor = data[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const checksum = ((descriptor >> 2) & 1) === 1;
  const dictFlag = descriptor & 3;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  if (data.length < at + fcsBytes) throw new Error("zstd frame header cut short");
  if (fcsBytes === 0) return { headerBytes: at, contentSize: null, checksum };
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + data[at + i]!;
  return { headerBytes: at + fcsBytes, contentSize: fcsBytes === 2 ? size + 256 : size, checksum };
}

/**
 * The size of the zstd frame at the start of `data`, found by walking its block headers (RFC
 * 8878 §3.1.1.2), so that bytes after it (a second frame smuggled into one slot of the seek
 * table) are seen before anything is decompressed.
 */
function frameLength(data: Uint8Array): number {
  const header = frameHeader(data);
  let at = header.headerBytes;
  for (;;) {
    if (at + 3 > data.length) throw new Error("zstd frame cut short");
    const block = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
    const last = block & 1;
    const type = (block >> 1) & 3;
    if (type === 3) throw new Error("reserved zstd block type");
    at += 3 + (type === 1 ? 1 : block >>> 3);
    if (at > data.length) throw new Error("zstd frame cut short");
    if (last) break;
  }
  return at + (header.checksum ? 4 : 0);
}

/**
 * Bytes read first from the end of a stored bundle to find its seek table: all of it for a
 * bundle cut as the writer cuts it by default; a larger table takes a second read.
 */
export const SEEK_TABLE_READ_BYTES =
  SKIPPABLE_HEADER_BYTES + (BUNDLE_SIZE / DEFAULT_ENTRIES_PER_FRAME) * 8 + FOOTER_BYTES;

/**
 * How many bytes at the end of a stored bundle its seek table takes, from its last bytes
 * (`tail`, at least FOOTER_BYTES of them), or null when the file has none (one frame).
 */
export function seekTableBytes(tail: Uint8Array): number | null {
  if (tail.length < FOOTER_BYTES || u32(tail, tail.length - 4) !== SEEKABLE_MAGIC) return null;
  const count = u32(tail, tail.length - FOOTER_BYTES);
  const entryBytes = tail[tail.length - 5]! & CHECKSUM_FLAG ? 12 : 8;
  return SKIPPABLE_HEADER_BYTES + count * entryBytes + FOOTER_BYTES;
}

/**
 * The frames a stored bundle's seek table lists, from the file's last bytes (`tail`, holding
 * at least seekTableBytes of them) and its size, so a reader needs no more of the file than
 * the frames it decompresses. Sizes must add up exactly to the file and to at most
 * MAX_BUNDLE_BYTES of bundle; anything else throws LogError("corrupt") naming `where`.
 */
export function seekTableFrames(tail: Uint8Array, fileSize: number, where: string): BundleFrames {
  const corrupt = (why: string): LogError => new LogError("corrupt", `${where}: ${why}`);
  /** Position in `tail` of file offset `at`. */
  const base = fileSize - tail.length;
  if (base < 0 || seekTableBytes(tail) === null) throw corrupt("has no seek table");
  const count = u32(tail, tail.length - FOOTER_BYTES);
  const descriptor = tail[tail.length - 5]!;
  if ((descriptor & RESERVED_BITS) !== 0) throw corrupt("the seek table sets reserved bits");
  const entryBytes = descriptor & CHECKSUM_FLAG ? 12 : 8;
  if (count < 1) throw corrupt("the seek table lists no frame");
  // Each frame takes its table entry and at least a frame header and a block in the file.
  if (count * (entryBytes + 9) > fileSize) {
    throw corrupt(`the seek table lists ${count} frames, more than the file can hold`);
  }
  const tableBytes = SKIPPABLE_HEADER_BYTES + count * entryBytes + FOOTER_BYTES;
  const tableAt = fileSize - tableBytes;
  if (tableAt < 0) throw corrupt(`the seek table takes ${tableBytes} bytes, more than the file holds`);
  if (tableAt < base)
    throw new RangeError(`${where}: the seek table starts before the ${tail.length} bytes given`);
  const t = tableAt - base;
  if (u32(tail, t) !== SKIPPABLE_SEEK_TABLE_MAGIC || u32(tail, t + 4) !== tableBytes - 8) {
    throw corrupt("the seek table's frame header does not match its footer");
  }
  const frames: BundleFrame[] = [];
  const perFrame = BUNDLE_SIZE % count === 0 ? BUNDLE_SIZE / count : 0;
  const maxFrame = perFrame > 0 ? perFrame * (MAX_ENTRY_BYTES + 1) : MAX_BUNDLE_BYTES;
  let offset = 0;
  let contentOffset = 0;
  for (let i = 0; i < count; i++) {
    const size = u32(tail, t + SKIPPABLE_HEADER_BYTES + i * entryBytes);
    const contentSize = u32(tail, t + SKIPPABLE_HEADER_BYTES + i * entryBytes + 4);
    if (size === 0) throw corrupt(`the seek table lists frame ${i} as empty`);
    if (contentSize > maxFrame) {
      throw corrupt(
        `the seek table declares ${contentSize} bytes for frame ${i}, more than its entries can hold`,
      );
    }
    frames.push({ offset, size, contentOffset, contentSize });
    offset += size;
    contentOffset += contentSize;
    if (offset > tableAt) throw corrupt("the seek table's frames run past the seek table");
    if (contentOffset > MAX_BUNDLE_BYTES) {
      throw corrupt(`the seek table declares more than a bundle holds (${MAX_BUNDLE_BYTES} bytes)`);
    }
  }
  if (offset !== tableAt)
    throw corrupt(`the seek table's frames add up to ${offset} bytes, the file holds ${tableAt}`);
  return { frames, entriesPerFrame: perFrame, contentSize: contentOffset };
}

/**
 * The frames of stored bundle `data` as its seek table lists them, or one frame for a file
 * without a seek table. Sizes must add up exactly to the file and to at most MAX_BUNDLE_BYTES
 * of bundle; anything else throws LogError("corrupt") naming `where`.
 */
export function bundleFrames(data: Uint8Array, where: string): BundleFrames {
  const corrupt = (why: string): LogError => new LogError("corrupt", `${where}: ${why}`);
  if (seekTableBytes(data) !== null) return seekTableFrames(data, data.length, where);
  let size: number | null;
  try {
    size = frameContentSize(data);
  } catch (err) {
    throw new LogError("corrupt", `${where}: ${(err as Error).message}`, { cause: err });
  }
  if (size === null || size > MAX_BUNDLE_BYTES) {
    throw corrupt(
      `the zstd frame ${size === null ? "does not declare its size" : `declares ${size} bytes, more than a bundle holds`}`,
    );
  }
  return {
    frames: [{ offset: 0, size: data.length, contentOffset: 0, contentSize: size }],
    entriesPerFrame: BUNDLE_SIZE,
    contentSize: size,
  };
}

let decompressor: Decompressor | undefined;

/**
 * The contents of one frame of stored bundle `data` (as listed by bundleFrames). The frame must
 * be exactly one zstd frame declaring the size the seek table gives; anything else, or a
 * checksum that does not match, throws LogError("corrupt") naming `where`.
 */
export function decompressFrame(data: Uint8Array, frame: BundleFrame, where: string, index = 0): Buffer {
  const bytes = data.subarray(frame.offset, frame.offset + frame.size);
  try {
    const { contentSize } = frameHeader(bytes);
    if (contentSize !== frame.contentSize) {
      throw new Error(`declares ${contentSize ?? "no"} bytes, the seek table ${frame.contentSize}`);
    }
    if (frameLength(bytes) !== bytes.length) throw new Error("is not one zstd frame");
    decompressor ??= new Decompressor();
    const out = decompressor.decompress(bytes);
    if (out.length !== frame.contentSize)
      throw new Error(`gave ${out.length} bytes, it declares ${frame.contentSize}`);
    return out;
  } catch (err) {
    throw new LogError("corrupt", `${where}: frame ${index}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The bundle bytes of a stored compressed bundle (every frame). Frames must declare their
 * sizes, at most MAX_BUNDLE_BYTES together, so a damaged or hostile file cannot make the reader
 * allocate more. Throws LogError("corrupt") naming `where` when the bytes are not such frames.
 */
export function decompressBundle(data: Uint8Array, where: string): Buffer {
  // bundleFrames bounds the total; each frame is checked against the table as it is decoded.
  return decompressFrames(data, bundleFrames(data, where).frames, where);
}

/** The contents of `frames` of `data`, one after another (decompressFrame, each checked). */
function decompressFrames(data: Uint8Array, frames: readonly BundleFrame[], where: string): Buffer {
  if (frames.length === 1) return decompressFrame(data, frames[0]!, where);
  const last = frames[frames.length - 1]!;
  const out = Buffer.allocUnsafe(last.contentOffset + last.contentSize);
  frames.forEach((frame, i) => decompressFrame(data, frame, where, i).copy(out, frame.contentOffset));
  return out;
}

/**
 * Decodes a `Content-Encoding: zstd` body from a server that is not trusted: any number of
 * frames, with or without declared sizes, stopping with an error past `maxBytes` of output.
 */
export function decodeZstdBody(body: Uint8Array, maxBytes = MAX_BUNDLE_BYTES): Promise<Buffer> {
  const frames = sizedFrames(body, maxBytes);
  if (frames !== null) {
    try {
      return Promise.resolve(decompressFrames(body, frames, "zstd body"));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return new Promise((resolve, reject) => {
    const stream = new DecompressStream();
    const chunks: Buffer[] = [];
    let total = 0;
    stream.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        stream.destroy(new Error(`the zstd body decompresses to more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(Buffer.concat(chunks, total)));
    stream.end(body);
  });
}

/**
 * The frames of `body` when each declares its decompressed size and together they declare at
 * most `maxBytes` (skippable frames, such as a seek table, left out); null for anything else,
 * which the streaming decoder then reads and bounds as it goes. kubetrail's own bundles are
 * such frames: decoded one call per frame, they cost no stream and no chunks to join.
 */
function sizedFrames(body: Uint8Array, maxBytes: number): BundleFrame[] | null {
  const frames: BundleFrame[] = [];
  let contentOffset = 0;
  for (let offset = 0; offset < body.length;) {
    const rest = body.subarray(offset);
    if (rest.length >= SKIPPABLE_HEADER_BYTES && (u32(rest, 0) & 0xfffffff0) === SKIPPABLE_MAGIC_BASE) {
      offset += SKIPPABLE_HEADER_BYTES + u32(rest, 4);
      if (offset > body.length) return null;
      continue;
    }
    let contentSize: number | null;
    let size: number;
    try {
      contentSize = frameHeader(rest).contentSize;
      size = frameLength(rest);
    } catch {
      return null;
    }
    if (contentSize === null || contentOffset + contentSize > maxBytes) return null;
    frames.push({ offset, size, contentOffset, contentSize });
    offset += size;
    contentOffset += contentSize;
  }
  return frames.length > 0 ? frames : null;
}
