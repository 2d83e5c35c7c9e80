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
import { setTimeout as sleep } from "node:timers/promises";
import { tilePath, type Tile } from "../../tlog/index.js";
import { bundlePrefix } from "../bundle-format.js";
import { CONTENT_ENCODING, decompressBundle } from "../bundle-codec.js";
import type { EncodedBundle, LogSource } from "../driver.js";
import { BUNDLE_SIZE, LogError, MAX_BUNDLE_BYTES, MAX_CHECKPOINT_BYTES, type EntryBundle } from "../types.js";
import { readRegularFile } from "./bounded-read.js";
import { BundleCache, fileIdentity } from "./bundle-cache.js";
import { FsLayout } from "./layout.js";
import { readRetention, type RetentionRecord } from "./retention.js";

const HASH_BYTES = 32;
const FULL_TILE_BYTES = BUNDLE_SIZE * HASH_BYTES;
/** Looks for a tile or bundle version that vanished or was half written: the first at once, then after 5, 10, 20 ms. */
const RETRY_DELAYS_MS = [0, 5, 10, 20];

/** How the files are read: readRegularFile, or a stand-in that changes the directory first (tests). */
export type ReadFile = (file: string, max: number, what: string) => Promise<Buffer | null>;

/** Widths of the partial versions kept in `dir` (`<full>.p/<W>`), widest first. */
async function partialWidths(dir: string): Promise<number[]> {
  try {
    const names = await fsp.readdir(dir);
    return names
      .filter((n) => /^[1-9][0-9]*$/.test(n) && Number(n) < BUNDLE_SIZE)
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
}

/** What one look for a tile or bundle found: it, a version being written (look again), or nothing. */
type Found<T> = { data: T } | "short" | null;

export class FsLogFiles implements LogSource {
  readonly layout: FsLayout;
  /** The retention record as last read: bundles it counts as pruned are not looked for. */
  private retention: RetentionRecord | null = null;
  private readonly cache = new BundleCache();

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
      ...(
        await partialWidths(this.layout.partialDir(this.layout.hashTile({ ...tile, width: BUNDLE_SIZE })))
      ).filter((w) => w > tile.width),
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
  async readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    const pruned = (r: RetentionRecord | null): EntryBundle | null =>
      r !== null && (index + 1) * BUNDLE_SIZE <= r.prunedBefore
        ? { gone: { state: "pruned", reason: r.reason } }
        : null;
    const known = pruned(this.retention);
    if (known !== null) return known;
    for (const [attempt, delay] of RETRY_DELAYS_MS.entries()) {
      if (delay > 0) await sleep(delay);
      // The writer renames the open bundle to its full path at any moment, too.
      const data = await this.findEntryBundle(index, width);
      if (data !== null) return { data };
      // Retention only grows: read again, it may have pruned the bundle since.
      if (attempt === 0) {
        this.retention = await readRetention(this.layout.retention);
        const gone = pruned(this.retention);
        if (gone !== null) return gone;
      }
    }
    return null;
  }

  /** Full bundle `index` as stored compressed, for serving as it is; null when it is stored plain. */
  async readEncodedBundle(index: number): Promise<EncodedBundle | null> {
    const file = this.layout.compressedBundle(index);
    const data = await this.readFile(file, MAX_BUNDLE_BYTES, this.relative(file));
    return data === null ? null : { encoding: CONTENT_ENCODING, data };
  }

  private relative(file: string): string {
    return file.slice(this.layout.dir.length + 1);
  }

  /**
   * The bytes of full bundle `index` from its compressed file; null when there is none; the
   * error when it does not decompress (damage), for the caller to raise unless the plain file
   * is still there (a conversion that did not finish).
   */
  private async readCompressed(index: number): Promise<Buffer | LogError | null> {
    const file = this.layout.compressedBundle(index);
    let identity: string;
    try {
      identity = fileIdentity(await fsp.stat(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    const cached = this.cache.get(file, identity);
    if (cached !== undefined) return cached;
    // Removed meanwhile (pruned or erased): the caller looks further.
    const stored = await this.readFile(file, MAX_BUNDLE_BYTES, this.relative(file));
    if (stored === null) return null;
    let data: Buffer;
    try {
      data = decompressBundle(stored, this.relative(file));
    } catch (err) {
      return err instanceof LogError ? err : new LogError("corrupt", String(err), { cause: err });
    }
    this.cache.set(file, identity, data);
    return data;
  }

  private async findEntryBundle(index: number, width: number): Promise<Buffer | null> {
    const full = this.layout.bundle(index);
    const compressed = await this.readCompressed(index);
    if (Buffer.isBuffer(compressed)) {
      if (width === BUNDLE_SIZE) return compressed;
      const prefix = bundlePrefix(compressed, width);
      if (prefix !== null) return Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length);
    }
    const candidates = [
      full,
      width < BUNDLE_SIZE ? this.layout.partialBundle(index, width) : null,
      this.layout.openBundle(index),
      ...(await partialWidths(this.layout.partialDir(full)))
        .filter((w) => w > width)
        .map((w) => this.layout.partialBundle(index, w)),
    ];
    for (const file of candidates) {
      if (file === null) continue;
      const data = await this.readFile(file, MAX_BUNDLE_BYTES, this.relative(file));
      // A full bundle is returned whole: a verifier must see a deleted or inserted line.
      if (data !== null && file === full && width === BUNDLE_SIZE) return data;
      const prefix = data === null ? null : bundlePrefix(data, width);
      if (prefix !== null) return Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length);
    }
    // A damaged compressed bundle with no plain one beside it is damage, not a missing bundle.
    if (compressed instanceof LogError) throw compressed;
    return null;
  }
}
