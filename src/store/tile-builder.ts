// Folds leaf hashes, in log order, into tlog-tiles hash tiles and the tree root while
// keeping only the right edge of the tree in memory: at most 255 hashes per tile level,
// so memory stays flat however long the log grows.
import {
  hashNode,
  rootFromLeafHashes,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Hash,
  type Tile,
} from "../tlog/index.js";

export interface TileData {
  tile: Tile;
  /** The tile's hashes, 32 bytes each, concatenated. */
  data: Uint8Array;
}

function concatHashes(hashes: Hash[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  hashes.forEach((h, i) => out.set(h, i * 32));
  return out;
}

/** Splits tile data into its 32-byte hashes. */
export function splitTileData(data: Uint8Array): Hash[] {
  const out: Hash[] = [];
  for (let i = 0; i + 32 <= data.length; i += 32) out.push(data.subarray(i, i + 32));
  return out;
}

/** The width of the rightmost tile at `level` for a tree of `size` leaves (0 = none). */
export function partialWidth(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level) % TILE_WIDTH;
}

export class TileBuilder {
  private leaves: number;
  /** rows[k]: the hashes of the partial (rightmost, not yet full) tile at tile level k. */
  private readonly rows: Hash[][];

  /**
   * Starts from a tree of `size` leaves whose partial tiles hold `rows` (rows[k] must have
   * partialWidth(size, k) hashes; use an empty array for a new log).
   */
  constructor(size = 0, rows: Hash[][] = []) {
    for (let k = 0; k < rows.length; k++) {
      if (rows[k]!.length !== partialWidth(size, k)) {
        throw new Error(`tile level ${k}: ${rows[k]!.length} hashes, want ${partialWidth(size, k)}`);
      }
    }
    this.leaves = size;
    this.rows = rows.map((r) => [...r]);
  }

  clone(): TileBuilder {
    return new TileBuilder(this.leaves, this.rows);
  }

  get size(): number {
    return this.leaves;
  }

  /** Adds the next leaf hash; returns the tiles that became full because of it. */
  push(leafHash: Hash): TileData[] {
    const completed: TileData[] = [];
    this.add(leafHash, null, completed);
    return completed;
  }

  /**
   * The level-0 tiles that pushing `leafHashes` next would fill, as their data (256 hashes
   * each, concatenated). Their roots, one node hash per leaf, are most of the work of
   * building tiles; they can be computed elsewhere and given to pushAll.
   */
  fillingTiles(leafHashes: readonly Hash[]): Uint8Array {
    const out = new Uint8Array(this.tilesFilledBy(leafHashes.length) * TILE_WIDTH * 32);
    if (out.length === 0) return out;
    let at = 0;
    for (const h of this.rows[0] ?? []) {
      out.set(h, at);
      at += 32;
    }
    for (let i = 0; at < out.length; i++, at += 32) out.set(leafHashes[i]!, at);
    return out;
  }

  /**
   * push for each of `leafHashes`, taking the roots of the level-0 tiles they fill from
   * `tileRoots` (in order, one per tile of fillingTiles) instead of hashing them here.
   */
  pushAll(leafHashes: readonly Hash[], tileRoots: readonly Hash[]): TileData[] {
    const filled = this.tilesFilledBy(leafHashes.length);
    if (tileRoots.length !== filled) {
      throw new Error(
        `${leafHashes.length} leaves fill ${filled} level-0 tiles, but ${tileRoots.length} roots were given`,
      );
    }
    const completed: TileData[] = [];
    let next = 0;
    for (const leaf of leafHashes) {
      const fills = (this.leaves + 1) % TILE_WIDTH === 0;
      this.add(leaf, fills ? tileRoots[next++]! : null, completed);
    }
    return completed;
  }

  /** The level-0 tiles that `count` more leaves fill. */
  private tilesFilledBy(count: number): number {
    return Math.floor(((this.rows[0]?.length ?? 0) + count) / TILE_WIDTH);
  }

  /** Adds a leaf, with its level-0 tile's root when it fills that tile and the root is known. */
  private add(leafHash: Hash, tileRoot: Hash | null, completed: TileData[]): void {
    this.leaves++;
    let hash = leafHash;
    for (let level = 0; ; level++) {
      const row = (this.rows[level] ??= []);
      row.push(hash);
      if (row.length < TILE_WIDTH) break;
      const index = this.leaves / TILE_WIDTH ** (level + 1) - 1;
      completed.push({ tile: { level, index, width: TILE_WIDTH }, data: concatHashes(row) });
      hash = level === 0 && tileRoot !== null ? tileRoot : rootFromLeafHashes(row);
      this.rows[level] = [];
    }
  }

  /** The partial tiles of the current tree (levels whose rightmost tile is not full). */
  partialTiles(): TileData[] {
    const out: TileData[] = [];
    this.rows.forEach((row, level) => {
      if (row.length === 0) return;
      const index = Math.floor(this.leaves / TILE_WIDTH ** (level + 1));
      out.push({ tile: { level, index, width: row.length }, data: concatHashes(row) });
    });
    return out;
  }

  /**
   * The RFC 6962 root of the current tree, from the right edge alone: the tree is the
   * right fold of the perfect subtrees given by the binary digits of its size.
   */
  root(): Hash {
    const perfect: Hash[] = [];
    for (let level = this.rows.length - 1; level >= 0; level--) {
      const row = this.rows[level]!;
      let start = 0;
      for (let bit = TILE_HEIGHT - 1; bit >= 0; bit--) {
        const n = 1 << bit;
        if ((row.length & n) === 0) continue;
        perfect.push(rootFromLeafHashes(row.slice(start, start + n)));
        start += n;
      }
    }
    if (perfect.length === 0) return rootFromLeafHashes([]);
    let acc = perfect[perfect.length - 1]!;
    for (let i = perfect.length - 2; i >= 0; i--) acc = hashNode(perfect[i]!, acc);
    return acc;
  }
}
