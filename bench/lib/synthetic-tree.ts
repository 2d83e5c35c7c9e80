// A genuine RFC 6962 tree of any size without writing its entries: leaf i is entry (i mod 256),
// so every aligned 256-leaf block is the same and each stored hash is a table lookup.
// Proof sizes and the tile-reading code path are exactly those of a real log of that size;
// only the I/O is missing (tiles come from memory). Used for 10 million entries and more.
import {
  type Hash,
  type HashReader,
  hashLeaf,
  hashNode,
  splitStoredHashIndex,
  type Tile,
  type TileReader,
  TILE_HEIGHT,
  TILE_WIDTH,
} from "../../src/tlog/index.js";

const PERIOD_LEVELS = TILE_HEIGHT; // period 2^8 = one level-0 tile
const MAX_LEVEL = 64;

export class PeriodicTree {
  private readonly levels: Hash[][] = [];

  constructor() {
    const leaves: Hash[] = [];
    for (let i = 0; i < 2 ** PERIOD_LEVELS; i++) leaves.push(hashLeaf(Buffer.from(this.entry(i))));
    this.levels.push(leaves);
    for (let l = 1; l <= MAX_LEVEL; l++) {
      const below = this.levels[l - 1] as Hash[];
      const row: Hash[] = [];
      for (let k = 0; k < Math.max(1, below.length / 2); k++) {
        const left = below[Math.min(2 * k, below.length - 1)] as Hash;
        const right = below[Math.min(2 * k + 1, below.length - 1)] as Hash;
        row.push(hashNode(left, right));
      }
      this.levels.push(row);
    }
  }

  /** The entry bytes of leaf i (as a string). */
  entry(i: number): string {
    return `{"kind":"Event","synthetic":${i % 2 ** PERIOD_LEVELS}}`;
  }

  leafHash(i: number): Hash {
    return this.stored(0, i);
  }

  /** Hash of the complete subtree at `level` number `n`. */
  stored(level: number, n: number): Hash {
    const row = this.levels[level];
    if (!row) throw new RangeError(`level ${level} is beyond ${MAX_LEVEL}`);
    return row[n % row.length] as Hash;
  }

  hashReader(): HashReader {
    return {
      readHashes: async (indexes) =>
        indexes.map((x) => {
          const { level, n } = splitStoredHashIndex(x);
          return this.stored(level, n);
        }),
    };
  }

  /** Tiles as a tlog-tiles server would serve them, built on request. */
  tileReader(): TileReader {
    return {
      readTiles: async (tiles: Tile[]) =>
        tiles.map((t) => {
          const out = new Uint8Array(t.width * 32);
          for (let j = 0; j < t.width; j++)
            out.set(this.stored(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + j), j * 32);
          return out;
        }),
    };
  }
}
