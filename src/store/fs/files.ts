// The files of a log directory as a LogSource, safe beside a running writer: it only reads
// files that are complete (renamed into place) or the published prefix of the open bundle.
import { promises as fsp } from "node:fs";
import type { Tile } from "../../tlog/index.js";
import { CONTENT_ENCODING, decompressBundle } from "../bundle-codec.js";
import { bundlePrefix } from "../bundle-format.js";
import type { EncodedBundle, LogSource } from "../driver.js";
import { readFileIfExists } from "../durable-file.js";
import { BUNDLE_SIZE, type EntryBundle } from "../types.js";
import { BundleCache, fileIdentity } from "./bundle-cache.js";
import { FsLayout } from "./layout.js";
import { readRetention } from "./retention.js";

const HASH_BYTES = 32;

/** Widths of the partial versions kept in `dir` (`<full>.p/<W>`), widest first. */
async function partialWidths(dir: string): Promise<number[]> {
  try {
    const names = await fsp.readdir(dir);
    return names
      .filter((n) => /^[1-9][0-9]*$/.test(n))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return [];
  }
}

export class FsLogFiles implements LogSource {
  readonly layout: FsLayout;
  private readonly cache = new BundleCache();

  constructor(dataDir: string) {
    this.layout = new FsLayout(dataDir);
  }

  get where(): string {
    return this.layout.dir;
  }

  /** The latest signed checkpoint note, or null for a log that never signed one. */
  readCheckpoint(): Promise<Uint8Array | null> {
    return readFileIfExists(this.layout.checkpoint);
  }

  /**
   * The hash tile `tile` (its first tile.width hashes). A tile only ever grows, so a wider
   * version (a later partial or the full tile) truncated to the width is the same tile.
   */
  async readTile(tile: Tile): Promise<Uint8Array | null> {
    const full = this.layout.hashTile({ ...tile, width: BUNDLE_SIZE });
    const want = tile.width * HASH_BYTES;
    const candidates = [
      tile.width < BUNDLE_SIZE ? this.layout.hashTile(tile) : null,
      full,
      ...(await partialWidths(this.layout.partialDir(full)))
        .filter((w) => w > tile.width)
        .map((w) => this.layout.hashTile({ ...tile, width: w })),
    ];
    for (const file of candidates) {
      if (file === null) continue;
      const data = await readFileIfExists(file);
      if (data !== null && data.length >= want) return data.subarray(0, want);
    }
    return null;
  }

  /**
   * The first `width` entries of bundle `index`, null if not there, or gone when retention
   * removed it. For width 256 the full bundle file is returned as stored, even if damaged.
   */
  async readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    // A writer renames the open bundle to its full path at any moment: a miss is looked
    // at once more, after which the full file must be there.
    const data = (await this.findEntryBundle(index, width)) ?? (await this.findEntryBundle(index, width));
    if (data !== null) return { data };
    const retention = await readRetention(this.layout.retention);
    if (retention !== null && (index + 1) * BUNDLE_SIZE <= retention.prunedBefore)
      return { gone: { state: "pruned", reason: retention.reason } };
    return null;
  }

  /** Full bundle `index` as stored compressed, for serving as it is; null when it is stored plain. */
  async readEncodedBundle(index: number): Promise<EncodedBundle | null> {
    const data = await readFileIfExists(this.layout.compressedBundle(index));
    return data === null ? null : { encoding: CONTENT_ENCODING, data };
  }

  /**
   * The bytes of full bundle `index` from its compressed file, or null when there is none, or
   * when it does not decompress (damage) and the plain file may still be there.
   */
  private async readCompressed(index: number): Promise<Buffer | null> {
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
    // Removed meanwhile (pruned): the caller looks further.
    const stored = await readFileIfExists(file);
    if (stored === null) return null;
    let data: Buffer;
    try {
      data = decompressBundle(stored, file);
    } catch {
      return null;
    }
    this.cache.set(file, identity, data);
    return data;
  }

  private async findEntryBundle(index: number, width: number): Promise<Buffer | null> {
    const full = this.layout.bundle(index);
    const compressed = await this.readCompressed(index);
    if (compressed !== null) {
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
      const data = await readFileIfExists(file);
      // A full bundle is returned whole: a verifier must see a deleted or inserted line.
      if (data !== null && file === full && width === BUNDLE_SIZE) return data;
      const prefix = data === null ? null : bundlePrefix(data, width);
      if (prefix !== null) return Buffer.from(prefix.buffer, prefix.byteOffset, prefix.length);
    }
    return null;
  }
}
