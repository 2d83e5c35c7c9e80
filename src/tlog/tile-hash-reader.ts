// A HashReader served from hash tiles. Given the root hash of a checkpoint it authenticates every
// tile it reads (following the design of Go's tlog.TileHashReader): the tiles on the right edge
// must hash to the root, and every full tile must hash to its entry in the tile above, so a
// hostile tile server cannot make a false proof verify.

import { isSize } from "./arith.js";
import { TlogError } from "./errors.js";
import { type Hash, HASH_SIZE, hashNode, hashesEqual, isHash } from "./hash.js";
import { type HashReader, storedHashIndex, subtreeIndexes } from "./stored.js";
import { fullTileHash, hashFromTile, tileAncestor, tileForStoredHash } from "./tile.js";
import { TILE_HEIGHT, TILE_WIDTH, type Tile, tilePath } from "./tile-path.js";

/** Reads hash tiles, e.g. from DATA/tile/… or a remote tlog-tiles server. */
export interface TileReader {
  /** Must resolve to one byte array of exactly width × 32 bytes per tile, in the order asked. */
  readTiles(tiles: Tile[]): Promise<Uint8Array[]>;
}

function badTile(message: string): TlogError {
  return new TlogError("bad-tile", message);
}

// 2 MiB of full tiles: the tiles of a few hundred proofs in a large log.
const MAX_VERIFIED_TILES = 256;

const key = (t: Tile): string => `${t.level}/${t.index}/${t.width}`;

// The distinct tiles one readHashes call needs, in fetch order.
class TilePlan {
  readonly tiles: Tile[] = [];
  private readonly position = new Map<string, number>();

  has(tile: Tile): boolean {
    return this.position.has(key(tile));
  }

  add(tile: Tile): number {
    const at = this.position.get(key(tile));
    if (at !== undefined) return at;
    this.tiles.push(tile);
    this.position.set(key(tile), this.tiles.length - 1);
    return this.tiles.length - 1;
  }

  indexOf(tile: Tile): number {
    const at = this.position.get(key(tile));
    if (at === undefined) throw badTile(`tile ${tilePath(tile)} was needed but not planned`);
    return at;
  }

  async fetch(reader: TileReader): Promise<Uint8Array[]> {
    const data = await reader.readTiles(this.tiles);
    if (!Array.isArray(data) || data.length !== this.tiles.length) {
      throw badTile(`tile reader returned ${String(data?.length)} tiles for ${this.tiles.length} requested`);
    }
    this.tiles.forEach((tile, i) => {
      const got = data[i];
      if (!(got instanceof Uint8Array) || got.length !== tile.width * HASH_SIZE) {
        throw badTile(`${tilePath(tile)}: ${String(got?.length)} bytes, want ${tile.width * HASH_SIZE}`);
      }
    });
    return data;
  }
}

// The tile holding stored hash x as it exists in the tree of `size` leaves.
function tileInTree(x: number, size: number): Tile {
  const tile = tileAncestor(tileForStoredHash(x).tile, 0, size);
  if (!tile) throw new TlogError("invalid-proof-input", `stored hash ${x} is not in a tree of size ${size}`);
  return tile;
}

/**
 * A HashReader over the tree of `size` leaves whose hashes come from `tiles`. With `rootHash`
 * (the tree's signed root) every tile read is authenticated against it and a tile that does not
 * fit throws TlogError("bad-tile"); without it the tiles are trusted (the log reading its own
 * files). Asking for a hash outside the tree throws TlogError("invalid-proof-input").
 */
export function tileHashReader(size: number, tiles: TileReader, rootHash?: Hash): HashReader {
  if (!isSize(size)) throw new TlogError("invalid-proof-input", `bad tree size ${String(size)}`);
  if (rootHash !== undefined && !isHash(rootHash)) {
    throw new TlogError("invalid-proof-input", "root hash is not a 32-byte hash");
  }
  const limit = size === 0 ? 0 : storedHashIndex(0, size);
  const checkInTree = (indexes: number[]): void => {
    for (const x of indexes) {
      if (!isSize(x) || x >= limit) {
        throw new TlogError(
          "invalid-proof-input",
          `stored hash ${String(x)} is not in a tree of size ${size}`,
        );
      }
    }
  };
  // Tiles already authenticated against rootHash: later reads that need only these (proving
  // many entries against one checkpoint) skip the fetch and the re-authentication.
  const verified = new Map<string, Uint8Array>();
  return {
    async readHashes(indexes) {
      checkInTree(indexes);
      if (indexes.length === 0) return [];
      if (rootHash === undefined) return readTrusted(size, tiles, indexes);
      const needed = indexes.map((x) => tileInTree(x, size));
      const cached = needed.map((t) => verified.get(key(t)));
      if (cached.every((d) => d !== undefined)) {
        return indexes.map((x, i) => hashFromTile(needed[i] as Tile, cached[i] as Uint8Array, x));
      }
      const { hashes, plan, data } = await readAuthenticated(size, tiles, rootHash, indexes);
      plan.tiles.forEach((t, i) => verified.set(key(t), data[i] as Uint8Array));
      for (const oldest of verified.keys()) {
        if (verified.size <= MAX_VERIFIED_TILES) break;
        verified.delete(oldest);
      }
      return hashes;
    },
  };
}

async function readTrusted(size: number, reader: TileReader, indexes: number[]): Promise<Hash[]> {
  const plan = new TilePlan();
  const at = indexes.map((x) => plan.add(tileInTree(x, size)));
  const data = await plan.fetch(reader);
  return indexes.map((x, i) =>
    hashFromTile(plan.tiles[at[i] as number] as Tile, data[at[i] as number] as Uint8Array, x),
  );
}

async function readAuthenticated(
  size: number,
  reader: TileReader,
  rootHash: Hash,
  indexes: number[],
): Promise<{ hashes: Hash[]; plan: TilePlan; data: Uint8Array[] }> {
  const plan = new TilePlan();
  // First the tiles holding the complete subtrees that make up the root: checked against it.
  const rootParts = subtreeIndexes(0, size);
  const rootAt = rootParts.map((x) => plan.add(tileInTree(x, size)));
  const rootTileCount = plan.tiles.length;

  // Then, for each wanted hash, its tile and every full tile between it and an already planned
  // ancestor, parents before children, so each can be checked against the one above.
  const at = indexes.map((x) => {
    const base = tileForStoredHash(x).tile;
    let up = 0;
    for (;;) {
      const ancestor = tileAncestor(base, up, size);
      if (!ancestor)
        throw badTile(`no authenticated ancestor for stored hash ${x} in a tree of size ${size}`);
      if (plan.has(ancestor)) break;
      up++;
    }
    for (up--; up >= 0; up--) {
      const t = tileAncestor(base, up, size) as Tile;
      if (t.width !== TILE_WIDTH)
        throw badTile(`partial tile ${tilePath(t)} has no parent in a tree of size ${size}`);
      plan.add(t);
    }
    return plan.add(tileInTree(x, size));
  });

  const data = await plan.fetch(reader);
  const tileOf = (i: number): [Tile, Uint8Array] => [plan.tiles[i] as Tile, data[i] as Uint8Array];

  let root = hashFromTile(
    ...tileOf(rootAt[rootAt.length - 1] as number),
    rootParts[rootParts.length - 1] as number,
  );
  for (let i = rootParts.length - 2; i >= 0; i--) {
    root = hashNode(hashFromTile(...tileOf(rootAt[i] as number), rootParts[i] as number), root);
  }
  if (!hashesEqual(root, rootHash)) {
    throw badTile(
      `tiles for the tree of size ${size} do not hash to its root: at least one of ${plan.tiles
        .slice(0, rootTileCount)
        .map(tilePath)
        .join(", ")} is wrong`,
    );
  }
  for (let i = rootTileCount; i < plan.tiles.length; i++) {
    const [tile, tileData] = tileOf(i);
    const parent = tileAncestor(tile, 1, size) as Tile;
    const [parentTile, parentData] = tileOf(plan.indexOf(parent));
    const expected = hashFromTile(
      parentTile,
      parentData,
      storedHashIndex(TILE_HEIGHT * parent.level, tile.index),
    );
    if (!hashesEqual(fullTileHash(tileData), expected)) {
      throw badTile(`${tilePath(tile)} does not match its entry in ${tilePath(parent)}`);
    }
  }
  const hashes = indexes.map((x, i) => hashFromTile(...tileOf(at[i] as number), x));
  return { hashes, plan, data };
}
