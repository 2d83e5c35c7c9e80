// Read access to a log directory, safe beside a running writer: it only reads files that
// are complete (renamed into place) or the published prefix of the open bundle.
import { promises as fsp } from "node:fs";
import type { Tile } from "../tlog/index.js";
import { tileHashReader, type HashReader, type TileReader } from "../tlog/index.js";
import { BUNDLE_SIZE, FsLayout } from "./fs-layout.js";
import { bundlePrefix, splitBundle } from "./bundle-format.js";
import { readFileIfExists } from "./durable-file.js";
import type { LogEntry } from "./types.js";
import { LogError } from "./types.js";

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

export class FsLogReader {
  readonly layout: FsLayout;

  constructor(dataDir: string) {
    this.layout = new FsLayout(dataDir);
  }

  /** The latest signed checkpoint note, or null for a log that never signed one. */
  async readCheckpointNote(): Promise<string | null> {
    return (await readFileIfExists(this.layout.checkpoint))?.toString("utf8") ?? null;
  }

  /**
   * The hash tile `tile` (its first tile.width hashes). A tile only ever grows, so a wider
   * version (a later partial or the full tile) truncated to the width is the same tile.
   */
  async readHashTile(tile: Tile): Promise<Uint8Array | null> {
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
   * The first `width` entries of bundle `index`, as bundle bytes, or null if not there.
   * For width 256 the full bundle file is returned as stored, even if damaged.
   */
  async readEntryBundle(index: number, width: number): Promise<Buffer | null> {
    // A writer renames the open bundle to its full path at any moment: a miss is looked
    // at once more, after which the full file must be there.
    return (await this.findEntryBundle(index, width)) ?? (await this.findEntryBundle(index, width));
  }

  private async findEntryBundle(index: number, width: number): Promise<Buffer | null> {
    const full = this.layout.bundle(index);
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

  /** Entries [start, end) in order; a missing or damaged bundle is a LogError("corrupt"). */
  async *readEntries(start: number, end: number): AsyncIterable<LogEntry> {
    for (let index = start; index < end;) {
      const bundle = Math.floor(index / BUNDLE_SIZE);
      const width = Math.min(BUNDLE_SIZE, end - bundle * BUNDLE_SIZE);
      const data = await this.readEntryBundle(bundle, width);
      if (data === null) {
        throw new LogError("corrupt", `entry bundle ${bundle} (entries ${bundle * BUNDLE_SIZE}…) is missing`);
      }
      const lines = splitBundle(data);
      if (lines.length !== width) {
        throw new LogError(
          "corrupt",
          `entry bundle ${bundle} holds ${lines.length} entries, expected ${width}`,
        );
      }
      for (let i = index - bundle * BUNDLE_SIZE; i < width; i++) yield { index: index++, data: lines[i]! };
    }
  }

  tileReader(): TileReader {
    return {
      readTiles: async (tiles) =>
        Promise.all(
          tiles.map(async (t) => {
            const data = await this.readHashTile(t);
            if (data === null) throw new LogError("corrupt", `hash tile ${t.level}/${t.index} is missing`);
            return data;
          }),
        ),
    };
  }

  /** Hashes of the tree of `size` leaves, read from the tiles. */
  hashReader(size: number): HashReader {
    return tileHashReader(size, this.tileReader());
  }
}
