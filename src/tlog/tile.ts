// Hash tiles (C2SP tlog-tiles, height 8): which tile holds a stored hash, which tiles a growing
// tree publishes, and how a hash above a tile's bottom row is recomputed from that row.

import { isSize, shr } from "./arith.js";
import { TlogError } from "./errors.js";
import { type Hash, HASH_SIZE, perfectTreeRoots } from "./hash.js";
import { type HashReader, readHashesChecked, splitStoredHashIndex, storedHashIndex } from "./stored.js";
import { MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, type Tile, tilePath } from "./tile-path.js";

export { MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, type Tile, type ParsedTilePath } from "./tile-path.js";
export { entryBundlePath, parseTilePath, tilePath } from "./tile-path.js";

function badTile(message: string): TlogError {
  return new TlogError("bad-tile", message);
}

/**
 * The narrowest tile holding stored hash `storedIndex`, and the byte range [start, end) of the
 * tile's bottom-row hashes that hash up to it (a single hash when it sits on the bottom row).
 */
export function tileForStoredHash(storedIndex: number): { tile: Tile; start: number; end: number } {
  const { level, n } = splitStoredHashIndex(storedIndex);
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const levelInTile = level - tileLevel * TILE_HEIGHT;
  const span = 2 ** levelInTile; // bottom-row hashes under this one
  const tileIndex = shr(n * span, TILE_HEIGHT);
  const first = n * span - tileIndex * TILE_WIDTH; // first bottom-row position covered
  return {
    tile: { level: tileLevel, index: tileIndex, width: first + span },
    start: first * HASH_SIZE,
    end: (first + span) * HASH_SIZE,
  };
}

// The Merkle hash of 2^k consecutive hashes in data[start:end]. Level by level in bulk: proofs
// read many such hashes, and a node-by-node recursion allocated an array per node.
function hashOfRow(data: Uint8Array, start: number, end: number): Hash {
  if (end - start === HASH_SIZE) return data.slice(start, end);
  return perfectTreeRoots(data.subarray(start, end), (end - start) / HASH_SIZE);
}

/** The Merkle tree hash of a full tile's 256 hashes: the hash it contributes one level up. */
export function fullTileHash(data: Uint8Array): Hash {
  if (data.length !== TILE_WIDTH * HASH_SIZE)
    throw badTile(`full tile data is ${data.length} bytes, not ${TILE_WIDTH * HASH_SIZE}`);
  return hashOfRow(data, 0, data.length);
}

export function checkTile(tile: Tile): void {
  tilePath(tile); // validates level, index and width with a bad-path error naming the tile
}

/**
 * The stored hash `storedIndex` computed from `data`, the bottom row of `tile`. The tile must be
 * the one tileForStoredHash names, or a wider version of it; throws TlogError("bad-tile").
 */
export function hashFromTile(tile: Tile, data: Uint8Array, storedIndex: number): Hash {
  checkTile(tile);
  if (data.length < tile.width * HASH_SIZE) {
    throw badTile(`${tilePath(tile)}: data is ${data.length} bytes, needs ${tile.width * HASH_SIZE}`);
  }
  const { tile: want, start, end } = tileForStoredHash(storedIndex);
  if (want.level !== tile.level || want.index !== tile.index || want.width > tile.width) {
    throw badTile(`stored hash ${storedIndex} is in ${tilePath(want)}, not ${tilePath(tile)}`);
  }
  return hashOfRow(data, start, end);
}

/**
 * Every tile that is new or changed when the tree grows from `oldSize` to `newSize` leaves:
 * full tiles completed by the growth and each partial tile width in between, level by level.
 * Publishing these keeps every checkpointed size readable (C2SP partial tiles). Unlike Go's
 * tlog.NewTiles it leaves out the old size's partial tiles, which have not changed.
 */
export function tilesForSize(oldSize: number, newSize: number): Tile[] {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) {
    throw new TlogError("invalid-proof-input", `tree cannot grow from size ${oldSize} to ${newSize}`);
  }
  const tiles: Tile[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL && shr(newSize, TILE_HEIGHT * level) > 0; level++) {
    const oldN = shr(oldSize, TILE_HEIGHT * level);
    const newN = shr(newSize, TILE_HEIGHT * level);
    const lastFull = shr(newN, TILE_HEIGHT);
    for (let index = shr(oldN, TILE_HEIGHT); index < lastFull; index++) {
      tiles.push({ level, index, width: TILE_WIDTH });
    }
    const base = lastFull * TILE_WIDTH;
    const maxWidth = newN - base;
    const minWidth = oldN > base ? oldN - base + 1 : 1;
    for (let width = minWidth; width <= maxWidth; width++) tiles.push({ level, index: lastFull, width });
  }
  return tiles;
}

/**
 * The tile as it exists in the tree of `size` leaves `up` tile levels above `tile`: full if the
 * tree has filled it, else the partial width `size` implies; null if the tree has none there.
 */
export function tileAncestor(tile: Tile, up: number, size: number): Tile | null {
  const level = tile.level + up;
  const index = shr(tile.index, TILE_HEIGHT * up);
  const hashesAtLevel = shr(size, TILE_HEIGHT * level);
  const start = index * TILE_WIDTH;
  if (start >= hashesAtLevel) return null;
  return { level, index, width: Math.min(TILE_WIDTH, hashesAtLevel - start) };
}

/** The tiles that make up the tree of `size` leaves: its full tiles and its partial tiles. */
export function treeTiles(size: number): Tile[] {
  if (!isSize(size)) throw new TlogError("invalid-proof-input", `bad tree size ${String(size)}`);
  const tiles: Tile[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL && shr(size, TILE_HEIGHT * level) > 0; level++) {
    const hashes = shr(size, TILE_HEIGHT * level);
    const full = shr(hashes, TILE_HEIGHT);
    for (let index = 0; index < full; index++) tiles.push({ level, index, width: TILE_WIDTH });
    if (hashes > full * TILE_WIDTH) tiles.push({ level, index: full, width: hashes - full * TILE_WIDTH });
  }
  return tiles;
}

/** The bottom-row data of `tile` (width × 32 bytes), read from stored hashes in one call. */
export async function readTileData(tile: Tile, reader: HashReader): Promise<Uint8Array> {
  checkTile(tile);
  const indexes: number[] = [];
  for (let i = 0; i < tile.width; i++) {
    indexes.push(storedHashIndex(TILE_HEIGHT * tile.level, tile.index * TILE_WIDTH + i));
  }
  const hashes = await readHashesChecked(reader, indexes);
  const data = new Uint8Array(tile.width * HASH_SIZE);
  hashes.forEach((h, i) => {
    data.set(h, i * HASH_SIZE);
  });
  return data;
}
