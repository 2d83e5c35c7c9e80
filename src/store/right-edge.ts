// The right edge of a Merkle tree — the partial tile at each level — rebuilt from the full
// tiles below it and the leaves of the last, partial bundle. Recovery uses it to resume from
// the last size whose full tiles are known durable without re-hashing the whole log: at most
// 255 full tiles per level are read, and at most 255 entries are hashed.
import { fullTileHash, type Hash } from "../tlog/index.js";
import { BUNDLE_SIZE, LogError } from "./types.js";
import { partialWidth, TileBuilder } from "./tile-builder.js";

const TILE_WIDTH = BUNDLE_SIZE;

export interface RightEdgeSource {
  /** The full (256-hash) tile at `level`, `index`, or null when it is not there. */
  readFullTile(level: number, index: number): Promise<Uint8Array | null>;
  /** Leaf hashes of entries [start, end). */
  leafHashes(start: number, end: number): Promise<Hash[]>;
}

/**
 * A tile builder for the tree of `size` leaves. Level 0's partial row is the leaf hashes of
 * the last partial bundle; each hash in level k's partial row (k ≥ 1) is the root of a full
 * tile at level k − 1. Throws LogError("corrupt") when a needed full tile is missing or short.
 */
export async function rightEdgeAt(size: number, source: RightEdgeSource): Promise<TileBuilder> {
  const rows: Hash[][] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const width = partialWidth(size, level);
    // The first child of this level's partial tile, counted at the level below.
    const first = Math.floor(size / TILE_WIDTH ** (level + 1)) * TILE_WIDTH;
    if (width === 0) {
      rows.push([]);
    } else if (level === 0) {
      rows.push(await source.leafHashes(first, first + width));
    } else {
      const row: Hash[] = [];
      for (let j = 0; j < width; j++) {
        const data = await source.readFullTile(level - 1, first + j);
        if (data === null || data.length !== TILE_WIDTH * 32) {
          throw new LogError("corrupt", `hash tile ${level - 1}/${first + j} is missing or short`);
        }
        row.push(fullTileHash(data));
      }
      rows.push(row);
    }
  }
  return new TileBuilder(size, rows);
}
