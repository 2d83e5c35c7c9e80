// How full entry bundles are compressed at rest: one Zstandard frame per bundle (RFC 8878),
// with the bundle's size in the frame header. A bundle compressed whole keeps the repetition
// between its 256 events, which frames of fewer entries lose (bench/compression.ts compares
// formats, levels and frame sizes). The frame is a standard `zstd` stream, so the stored bytes
// are served as they are to a client that accepts `Content-Encoding: zstd`, and `zstd -d`
// restores the bundle file.
import { Decompressor, DecompressStream, compress } from "zstd-napi";
import { LogError, MAX_BUNDLE_BYTES } from "./types.js";

/** The file suffix of a compressed bundle, and its HTTP content coding. */
export const COMPRESSED_SUFFIX = ".zst";
export const CONTENT_ENCODING = "zstd";

/**
 * The level bundles are compressed at when they are sealed: fast enough that compressing runs
 * well ahead of ingest on a spare core, and most of the ratio of the slow levels on audit JSON
 * (see bench/README.md, compression).
 */
export const DEFAULT_LEVEL = 3;

const MAGIC = 0xfd2fb528;

/**
 * Compresses bundle bytes into one zstd frame that records their size and a checksum of them,
 * so damage to the stored file is found when it is read rather than passed on as entries.
 */
export function compressBundle(raw: Uint8Array, level = DEFAULT_LEVEL): Buffer {
  return compress(raw, { compressionLevel: level, checksumFlag: true });
}

/**
 * The decompressed size a zstd frame header declares, or null when the frame does not say
 * (RFC 8878 §3.1.1.1). Throws when `data` does not start with a zstd frame.
 */
export function frameContentSize(data: Uint8Array): number | null {
  if (data.length < 6) throw new Error("too short for a zstd frame");
  const magic = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (magic !== MAGIC) throw new Error("not a zstd frame");
  const descriptor = data[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictFlag = descriptor & 3;
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  if (data.length < at + fcsBytes) throw new Error("zstd frame header cut short");
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + data[at + i]!;
  return fcsBytes === 2 ? size + 256 : size;
}

let decompressor: Decompressor | undefined;

/**
 * The bundle bytes of a stored compressed bundle. The frame must declare its size, at most
 * MAX_BUNDLE_BYTES, so a damaged or hostile file cannot make the reader allocate more.
 * Throws LogError("corrupt") naming `where` when the bytes are not such a frame.
 */
export function decompressBundle(data: Uint8Array, where: string): Buffer {
  let size: number | null;
  try {
    size = frameContentSize(data);
  } catch (err) {
    throw new LogError("corrupt", `${where}: ${(err as Error).message}`, { cause: err });
  }
  if (size === null || size > MAX_BUNDLE_BYTES) {
    throw new LogError(
      "corrupt",
      `${where}: the zstd frame ${size === null ? "does not declare its size" : `declares ${size} bytes, more than a bundle holds`}`,
    );
  }
  try {
    decompressor ??= new Decompressor();
    const out = decompressor.decompress(data);
    if (out.length !== size) throw new Error(`${out.length} bytes where the frame declares ${size}`);
    return out;
  } catch (err) {
    throw new LogError("corrupt", `${where}: cannot decompress: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decodes a `Content-Encoding: zstd` body from a server that is not trusted: any number of
 * frames, with or without declared sizes, stopping with an error past `maxBytes` of output.
 */
export function decodeZstdBody(body: Uint8Array, maxBytes = MAX_BUNDLE_BYTES): Promise<Buffer> {
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
