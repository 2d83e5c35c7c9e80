// The files of a log directory as a LogSource, safe beside a running writer: it only reads
// files that are complete (renamed into place) or the published prefix of the open bundle. It
// trusts nothing it reads: every file must be a regular file of a size the format allows.
//
// A reader holds one checkpoint while the writer goes on: the partial tile or bundle that
// checkpoint names may be replaced by a wider one (and removed) at any moment, and a wider one
// is written in place, so it can be seen half written. A tile or bundle only ever grows, so any
// wider version cut to the width is the same: a miss is looked for again, among the versions
// there are by then, a few times before it counts as missing.
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tilePath, type Tile } from "../../tlog/index.js";
import { bundlePrefix, countLines } from "../bundle-format.js";
import {
  bundleFrames,
  CONTENT_ENCODING,
  decompressFrame,
  SEEK_TABLE_READ_BYTES,
  seekTableBytes,
  seekTableFrames,
  type BundleFrames,
} from "../bundle-codec.js";
import type { EncodedBundle, LogSource } from "../driver.js";
import { BUNDLE_SIZE, LogError, MAX_BUNDLE_BYTES, MAX_CHECKPOINT_BYTES, type EntryBundle } from "../types.js";
import { openRegularFile, readRegularFile } from "./bounded-read.js";
import { BundleCache, fileIdentity } from "./bundle-cache.js";
import { FsLayout } from "./layout.js";
import { readRetention, type RetentionRecord } from "./retention.js";

const HASH_BYTES = 32;
const FULL_TILE_BYTES = BUNDLE_SIZE * HASH_BYTES;
/** Looks for a tile or bundle version that vanished or was half written: the first at once, then after 5, 10, 20 ms. */
const RETRY_DELAYS_MS = [0, 5, 10, 20];

/** How the files are read: readRegularFile, or a stand-in that changes the directory first (tests). */
export type ReadFile = (file: string, max: number, what: string) => Promise<Buffer | null>;

/**
 * Widths above `above` of the partial versions kept in `dir` (`<full>.p/<W>`), widest first.
 * None is wider than a full one: a read of a full tile or bundle looks in no directory.
 */
async function partialWidths(dir: string, above: number): Promise<number[]> {
  if (above >= BUNDLE_SIZE - 1) return [];
  try {
    const names = await fsp.readdir(dir);
    return names
      .filter((n) => /^[1-9][0-9]*$/.test(n) && Number(n) < BUNDLE_SIZE && Number(n) > above)
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
}

/** What one look for a tile or bundle found: it, a version being written (look again), or nothing. */
type Found<T> = { data: T } | "short" | null;

/** Some entries of a bundle: `data` holds its lines from entry `first` on. */
interface Span {
  data: Buffer;
  first: number;
}

/** How many stored bundles' frame counts are remembered, so cached frames are found without the file. */
const MAX_KNOWN_LAYOUTS = 16_384;

/** Whether retention record `r` counts bundle `index` as removed. */
function prunedBy(r: RetentionRecord | null, index: number): boolean {
  return r !== null && (index + 1) * BUNDLE_SIZE <= r.prunedBefore;
}

/** Bytes of `data` after its first `lines` lines (which it has). */
function lineOffset(data: Buffer, lines: number): number {
  return bundlePrefix(data, lines)!.length;
}

/** `length` bytes of `fh` from `offset`, in memory of their own; fewer (the file was cut) is damage. */
async function readAt(
  fh: FileHandle,
  offset: number,
  length: number,
  where: string,
  counted: { bytes: number },
): Promise<Buffer> {
  counted.bytes += length;
  const out = Buffer.allocUnsafeSlow(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(out, got, length - got, offset + got);
    if (bytesRead === 0) throw new LogError("corrupt", `${where}: cut short while it was read`);
    got += bytesRead;
  }
  return out;
}

/**
 * A compressed bundle file opened for positional reads: its seek table at once, then only the
 * frames asked for. Like readRegularFile, it reads only a regular file of a size the format
 * allows (opened without blocking).
 */
class StoredBundle {
  /** The bytes of the frames last read, and the file offset they start at. */
  private span: { first: number; last: number; at: number; bytes: Buffer } | null = null;

  private constructor(
    private readonly fh: FileHandle,
    readonly identity: string,
    readonly table: BundleFrames,
    /** The whole file, when it is one frame without a seek table (read whole to find its size). */
    private readonly whole: Buffer | null,
    private readonly where: string,
    private readonly counted: { bytes: number },
  ) {}

  /** Opens `file` and reads its seek table (counting the bytes read in `counted`); null when it does not exist. */
  static async open(file: string, where: string, counted: { bytes: number }): Promise<StoredBundle | null> {
    const opened = await openRegularFile(file, MAX_BUNDLE_BYTES, where);
    if (opened === null) return null;
    const { fh, stat: st } = opened;
    try {
      const tailBytes = Math.min(st.size, SEEK_TABLE_READ_BYTES);
      let tail = await readAt(fh, st.size - tailBytes, tailBytes, where, counted);
      const tableBytes = seekTableBytes(tail);
      if (tableBytes === null) {
        // One frame without a seek table (how bundles were stored first): the file is the frame.
        const whole = tailBytes === st.size ? tail : await readAt(fh, 0, st.size, where, counted);
        return new StoredBundle(fh, fileIdentity(st), bundleFrames(whole, where), whole, where, counted);
      }
      // A table larger than the file is damage, which seekTableFrames names.
      if (tableBytes > tail.length && tableBytes <= st.size)
        tail = await readAt(fh, st.size - tableBytes, tableBytes, where, counted);
      return new StoredBundle(
        fh,
        fileIdentity(st),
        seekTableFrames(tail, st.size, where),
        null,
        where,
        counted,
      );
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * The contents of frame `k`. The frames up to `last` are read with it in one read, as the
   * caller goes on to them (those it finds in its cache are read for nothing: at most a bundle).
   */
  async frame(k: number, last: number): Promise<Buffer> {
    const frame = this.table.frames[k]!;
    if (this.whole !== null) return decompressFrame(this.whole, frame, this.where, k);
    if (this.span === null || k < this.span.first || k > this.span.last) {
      const end = this.table.frames[last]!;
      const length = end.offset + end.size - frame.offset;
      const bytes = await readAt(this.fh, frame.offset, length, this.where, this.counted);
      this.span = { first: k, last, at: frame.offset, bytes };
    }
    return decompressFrame(this.span.bytes, { ...frame, offset: frame.offset - this.span.at }, this.where, k);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export class FsLogFiles implements LogSource {
  readonly layout: FsLayout;
  /** The retention record as last read: bundles it counts as pruned are not looked for. */
  private retention: RetentionRecord | null = null;
  /** Whether the retention record was read yet (it is read again when a bundle is not found). */
  private retentionRead = false;
  /** Decompressed frames of compressed bundles, by file and frame. */
  private readonly cache = new BundleCache();
  /** Frames of compressed bundles this reader decompressed, and the bytes they gave (benches). */
  readonly decompressed = { frames: 0, bytes: 0 };
  /** Bytes this reader read from compressed bundle files to find entries in them (tests, benches). */
  readonly compressedRead = { bytes: 0 };
  /** Entries per frame of the compressed bundles read, by file and file identity. */
  private readonly layouts = new Map<string, { identity: string; entriesPerFrame: number }>();

  constructor(
    dataDir: string,
    private readonly readFile: ReadFile = readRegularFile,
  ) {
    this.layout = new FsLayout(dataDir);
  }

  get where(): string {
    return this.layout.dir;
  }

  /** The latest signed checkpoint note, or null for a log that never signed one. */
  readCheckpoint(): Promise<Uint8Array | null> {
    return this.readFile(this.layout.checkpoint, MAX_CHECKPOINT_BYTES, "checkpoint");
  }

  /**
   * The hash tile `tile` (its first tile.width hashes). A version of another size than its
   * width says (a full tile is exactly 8,192 bytes) is a LogError("corrupt") naming it.
   */
  async readTile(tile: Tile): Promise<Uint8Array | null> {
    let found: Found<Uint8Array> = null;
    for (const delay of RETRY_DELAYS_MS) {
      if (delay > 0) await sleep(delay);
      found = await this.findTile(tile);
      if (found !== null && found !== "short") return found.data;
    }
    if (found === "short") throw new LogError("corrupt", `${tilePath(tile)}: shorter than its width`);
    return null;
  }

  private async findTile(tile: Tile): Promise<Found<Uint8Array>> {
    const want = tile.width * HASH_BYTES;
    const widths = [
      ...(tile.width < BUNDLE_SIZE ? [tile.width] : []),
      BUNDLE_SIZE,
      ...(await partialWidths(
        this.layout.partialDir(this.layout.hashTile({ ...tile, width: BUNDLE_SIZE })),
        tile.width,
      )),
    ];
    let short = false;
    for (const width of widths) {
      const version = { ...tile, width };
      const size = width * HASH_BYTES;
      const data = await this.readFile(this.layout.hashTile(version), FULL_TILE_BYTES, tilePath(version));
      if (data === null) continue;
      if (data.length > size) {
        throw new LogError(
          "corrupt",
          `${tilePath(version)}: ${data.length} bytes, a tile of ${width} hashes is ${size}`,
        );
      }
      // A full tile is written before any checkpoint names it: short, it is damaged.
      if (data.length < size && width === BUNDLE_SIZE) {
        throw new LogError("corrupt", `${tilePath(version)}: ${data.length} bytes, a full tile is ${size}`);
      }
      if (data.length < size) {
        short = true;
        continue;
      }
      return { data: data.subarray(0, want) };
    }
    return short ? "short" : null;
  }

  /**
   * The first `width` entries of bundle `index`, null if not there, or gone when retention
   * removed it. For width 256 the full bundle file is returned as stored, even if damaged.
   */
  readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    return this.readEntrySpan(index, 0, width);
  }

  /**
   * Entries [from, width) of bundle `index` (LogSource.readEntrySpan): of a compressed bundle
   * only the frames holding them are decompressed.
   */
  async readEntrySpan(index: number, from: number, width: number): Promise<EntryBundle | null> {
    const pruned = (r: RetentionRecord | null): EntryBundle | null =>
      prunedBy(r, index) ? { gone: { state: "pruned", reason: r!.reason } } : null;
    const known = pruned(this.retention);
    if (known !== null) return known;
    for (const [attempt, delay] of RETRY_DELAYS_MS.entries()) {
      if (delay > 0) await sleep(delay);
      // The writer renames the open bundle to its full path at any moment, too.
      const span = await this.findEntryBundle(index, from, width);
      if (span !== null) return span.first === 0 ? { data: span.data } : span;
      // Retention only grows: read again, it may have pruned the bundle since.
      if (attempt === 0) {
        const gone = pruned(await this.readRetention());
        if (gone !== null) return gone;
      }
    }
    return null;
  }

  /**
   * Full bundle `index` as stored compressed, for serving as it is; null when it is stored
   * plain, or when retention removed it (a crash may leave the file of a bundle it counts as
   * pruned: it is pruned all the same, as readEntryBundle says).
   */
  async readEncodedBundle(index: number): Promise<EncodedBundle | null> {
    if (await this.pruned(index)) return null;
    const file = this.layout.compressedBundle(index);
    const data = await this.readFile(file, MAX_BUNDLE_BYTES, this.relative(file));
    return data === null ? null : { encoding: CONTENT_ENCODING, data };
  }

  private relative(file: string): string {
    return file.slice(this.layout.dir.length + 1);
  }

  /**
   * Entries [from, width) of full bundle `index` from its compressed file (all of it, as
   * stored, for 0 and 256); null when there is none; the error when it does not decompress or
   * its frames do not hold the entries they should (damage), for the caller to raise unless the
   * plain file is still there (a conversion that did not finish). Frames come from the cache
   * while they can; at the first that is not there the file is opened, and only its seek table
   * and the frames still needed are read from it.
   */
  private async readCompressed(index: number, from: number, width: number): Promise<Span | LogError | null> {
    const file = this.layout.compressedBundle(index);
    const where = this.relative(file);
    let identity: string;
    try {
      identity = fileIdentity(await fsp.stat(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    const whole = from === 0 && width === BUNDLE_SIZE;
    const known = this.layouts.get(file);
    let perFrame = known !== undefined && known.identity === identity ? known.entriesPerFrame : null;
    let stored: StoredBundle | null = null;
    try {
      for (;;) {
        if (perFrame === null) {
          // Removed meanwhile (pruned or erased): the caller looks further.
          stored = await StoredBundle.open(file, where, this.compressedRead);
          if (stored === null) return null;
          identity = stored.identity;
          perFrame = stored.table.entriesPerFrame;
          if (this.layouts.size >= MAX_KNOWN_LAYOUTS) this.layouts.clear();
          // Frames not cut on entries (perFrame 0: another writer's seekable file) are read whole.
          if (perFrame > 0) this.layouts.set(file, { identity, entriesPerFrame: perFrame });
        }
        const all = whole || perFrame === 0;
        const firstFrame = all ? 0 : Math.floor(from / perFrame);
        const lastFrame = all
          ? (stored?.table.frames.length ?? BUNDLE_SIZE / perFrame) - 1
          : Math.floor((width - 1) / perFrame);
        const frames: Buffer[] = [];
        for (let k = firstFrame; k <= lastFrame; k++) {
          const key = `${file}#${k}`;
          let frame = this.cache.get(key, identity);
          if (frame === undefined) {
            if (stored === null) {
              stored = await StoredBundle.open(file, where, this.compressedRead);
              if (stored === null) return null;
            }
            // Replaced since it was looked at (erasure rewrote it): start again from this file.
            if (stored.identity !== identity) break;
            if (lastFrame >= stored.table.frames.length) {
              throw new LogError(
                "corrupt",
                `${where}: ${stored.table.frames.length} frames of ${perFrame} entries hold no entry ${width - 1}`,
              );
            }
            frame = await stored.frame(k, lastFrame);
            this.decompressed.frames++;
            this.decompressed.bytes += frame.length;
            this.cache.set(key, identity, frame);
          }
          frames.push(frame);
        }
        if (frames.length < lastFrame - firstFrame + 1) {
          perFrame = null;
          await stored?.close();
          stored = null;
          continue;
        }
        if (perFrame === 0 && !whole) {
          const prefix = bundlePrefix(Buffer.concat(frames), width);
          if (prefix === null) throw new LogError("corrupt", `${where}: holds fewer than ${width} entries`);
          return { data: Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length), first: 0 };
        }
        return this.spanOf(frames, perFrame, from, width, whole, where);
      }
    } catch (err) {
      // The file's format and sizes are checked with LogErrors; any other error is the disk's.
      if (err instanceof LogError) return err;
      throw err;
    } finally {
      await stored?.close();
    }
  }

  /**
   * Entries [from, width) from consecutive decompressed frames of `perFrame` entries each (the
   * first holding entry `from`). Every frame of a read of some entries must hold exactly its
   * entries; a whole bundle is returned as it decompressed, for the verifier to judge.
   */
  private spanOf(
    frames: Buffer[],
    perFrame: number,
    from: number,
    width: number,
    whole: boolean,
    where: string,
  ): Span | LogError {
    const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    if (whole) return { data, first: 0 };
    const firstFrame = Math.floor(from / perFrame);
    for (const [i, frame] of frames.entries()) {
      const lines = countLines(frame);
      if (lines !== perFrame) {
        return new LogError(
          "corrupt",
          `${where}: frame ${firstFrame + i} holds ${lines ?? "a cut"} entries, not ${perFrame}`,
        );
      }
    }
    const skip = from - firstFrame * perFrame;
    const start = skip === 0 ? 0 : lineOffset(data, skip);
    return { data: data.subarray(start, lineOffset(data, width - firstFrame * perFrame)), first: from };
  }

  /**
   * Whether retention removed bundle `index`: as DATA/retention was last read (once, the first
   * time), or with `reread` as it is now (it only grows).
   */
  async pruned(index: number, reread = false): Promise<boolean> {
    return prunedBy(this.retentionRead && !reread ? this.retention : await this.readRetention(), index);
  }

  /** Reads DATA/retention again (it only grows) and keeps it. */
  private async readRetention(): Promise<RetentionRecord | null> {
    this.retention = await readRetention(this.layout.retention);
    this.retentionRead = true;
    return this.retention;
  }

  private async findEntryBundle(index: number, from: number, width: number): Promise<Span | null> {
    const full = this.layout.bundle(index);
    const compressed = await this.readCompressed(index, from, width);
    if (compressed !== null && !(compressed instanceof LogError)) return compressed;
    const candidates = [
      full,
      width < BUNDLE_SIZE ? this.layout.partialBundle(index, width) : null,
      this.layout.openBundle(index),
      ...(await partialWidths(this.layout.partialDir(full), width)).map((w) =>
        this.layout.partialBundle(index, w),
      ),
    ];
    for (const file of candidates) {
      if (file === null) continue;
      const data = await this.readFile(file, MAX_BUNDLE_BYTES, this.relative(file));
      // A full bundle is returned whole: a verifier must see a deleted or inserted line.
      if (data !== null && file === full && width === BUNDLE_SIZE) return { data, first: 0 };
      const prefix = data === null ? null : bundlePrefix(data, width);
      if (prefix !== null)
        return { data: Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length), first: 0 };
    }
    // A damaged compressed bundle with no plain one beside it is damage, not a missing bundle.
    if (compressed instanceof LogError) throw compressed;
    return null;
  }
}
