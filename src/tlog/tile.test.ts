import { describe, expect, it } from "vitest";
import { TlogError } from "./errors.js";
import { type Hash, HASH_SIZE } from "./hash.js";
import {
  type HashReader,
  memoryHashReader,
  proveConsistency,
  proveInclusion,
  storedHashIndex,
  treeHash,
} from "./stored.js";
import {
  type Tile,
  TILE_HEIGHT,
  TILE_WIDTH,
  entryBundlePath,
  hashFromTile,
  parseTilePath,
  readTileData,
  tileForStoredHash,
  tilePath,
  tilesForSize,
  treeTiles,
} from "./tile.js";
import { type TileReader, tileHashReader } from "./tile-hash-reader.js";
import { consistencyProof, inclusionProof, rootFromLeafHashes, verifyInclusion } from "./tree.js";
import { hex, testLeaves, uniformTree } from "./testdata/helpers.js";

describe("tile paths", () => {
  it("match the C2SP tlog-tiles examples", () => {
    // "index 1234067 will be encoded as x001/x234/067"
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe("tile/0/x001/x234/067");
    expect(tilePath({ level: 0, index: 1234067, width: 8 })).toBe("tile/0/x001/x234/067.p/8");
    expect(tilePath({ level: 3, index: 0, width: 256 })).toBe("tile/3/000");
    expect(tilePath({ level: 1, index: 1000, width: 1 })).toBe("tile/1/x001/000.p/1");
    expect(tilePath({ level: 63, index: 999, width: 255 })).toBe("tile/63/999.p/255");
    expect(entryBundlePath(1234067, 256)).toBe("tile/entries/x001/x234/067");
    expect(entryBundlePath(5, 17)).toBe("tile/entries/005.p/17");
  });

  it("round-trip through parseTilePath", () => {
    for (const index of [0, 1, 999, 1000, 1001, 999_999, 1_000_000, 1234067, 2 ** 40 + 7]) {
      for (const width of [1, 2, 100, 255, 256]) {
        for (const level of [0, 1, 9, 63]) {
          const tile = { level, index, width };
          expect(parseTilePath(tilePath(tile))).toEqual({ kind: "hash", tile });
        }
        expect(parseTilePath(entryBundlePath(index, width))).toEqual({ kind: "entries", index, width });
      }
    }
  });

  it.each([
    "tile/0/1234067",
    "tile/0/x1/234",
    "tile/0/x001/234/067",
    "tile/0/x000/001",
    "tile/00/000",
    "tile/01/000",
    "tile/64/000",
    "tile/-1/000",
    "tile/data/000",
    "tile/0/000.p/0",
    "tile/0/000.p/256",
    "tile/0/000.p/08",
    "tile/0/000.p/",
    "tile/0/000.p",
    "tile/0/000/",
    "tile/0/",
    "tile/0",
    "tiles/0/000",
    "/tile/0/000",
    "tile/0/abc",
    "tile/0/x001",
    "tile/entries/000.p/300",
    "tile/entries/x01/000",
    "tile/8/0/000",
  ])("rejects %s", (path) => {
    expect(() => parseTilePath(path)).toThrow(expect.objectContaining({ code: "bad-path" }));
  });

  it("rejects tiles that have no path", () => {
    for (const tile of [
      { level: 0, index: 0, width: 0 },
      { level: 0, index: 0, width: 257 },
      { level: 64, index: 0, width: 1 },
      { level: 0, index: -1, width: 1 },
      { level: 0, index: 1.5, width: 1 },
    ]) {
      expect(() => tilePath(tile)).toThrow(TlogError);
    }
  });
});

describe("tiles of a tree", () => {
  it("match the C2SP example of a tree of size 70,000", () => {
    const tiles = treeTiles(70_000);
    const at = (level: number) => tiles.filter((t) => t.level === level);
    expect(at(0).filter((t) => t.width === 256)).toHaveLength(273);
    expect(at(0).filter((t) => t.width < 256)).toEqual([{ level: 0, index: 273, width: 112 }]);
    expect(at(1)).toEqual([
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
    ]);
    expect(at(2)).toEqual([{ level: 2, index: 0, width: 1 }]);
    expect(tiles).toHaveLength(273 + 1 + 2 + 1);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
    expect(treeTiles(256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
  });

  it("tilesForSize lists the tiles new or changed since the old size", () => {
    const paths = (oldSize: number, newSize: number) => tilesForSize(oldSize, newSize).map(tilePath);
    expect(paths(0, 1)).toEqual(["tile/0/000.p/1"]);
    expect(paths(5, 7)).toEqual(["tile/0/000.p/6", "tile/0/000.p/7"]);
    expect(paths(0, 256)).toEqual(["tile/0/000", "tile/1/000.p/1"]);
    expect(paths(255, 256)).toEqual(["tile/0/000", "tile/1/000.p/1"]);
    expect(paths(256, 257)).toEqual(["tile/0/001.p/1"]);
    expect(paths(65_535, 65_537)).toEqual(["tile/0/255", "tile/0/256.p/1", "tile/1/000", "tile/2/000.p/1"]);
    expect(paths(7, 7)).toEqual([]);
    expect(() => tilesForSize(5, 4)).toThrow(TlogError);
  });

  it("tilesForSize covers every tile of the new tree the old one lacked, and nothing of the old", () => {
    const pairs: [number, number][] = [
      [0, 70_000],
      [300, 70_000],
      [65_535, 65_537],
      [1000, 1001],
      [511, 100_000],
    ];
    for (const [oldSize, newSize] of pairs) {
      const listed = new Set(tilesForSize(oldSize, newSize).map(tilePath));
      const old = new Set(treeTiles(oldSize).map(tilePath));
      for (const t of treeTiles(newSize)) expect(listed.has(tilePath(t)) || old.has(tilePath(t))).toBe(true);
      for (const p of listed) expect(old.has(p)).toBe(false);
    }
  });

  it("tileForStoredHash names the tile and bottom-row span of a hash", () => {
    expect(tileForStoredHash(storedHashIndex(0, 0))).toEqual({
      tile: { level: 0, index: 0, width: 1 },
      start: 0,
      end: 32,
    });
    expect(tileForStoredHash(storedHashIndex(0, 300))).toEqual({
      tile: { level: 0, index: 1, width: 45 },
      start: 44 * 32,
      end: 45 * 32,
    });
    expect(tileForStoredHash(storedHashIndex(3, 1))).toEqual({
      tile: { level: 0, index: 0, width: 16 },
      start: 8 * 32,
      end: 16 * 32,
    });
    expect(tileForStoredHash(storedHashIndex(8, 5))).toEqual({
      tile: { level: 1, index: 0, width: 6 },
      start: 5 * 32,
      end: 6 * 32,
    });
    expect(tileForStoredHash(storedHashIndex(17, 3))).toEqual({
      tile: { level: 2, index: 0, width: 8 },
      start: 6 * 32,
      end: 8 * 32,
    });
  });
});

// A tree of 70,000 leaves with three tile levels; tiles are cut from its stored hashes on demand.
const N = 70_000;
const leaves = testLeaves(N);
const stored = memoryHashReader(leaves);

function tileServer(tamper?: (tile: Tile, data: Uint8Array) => void): TileReader & { requested: Tile[] } {
  const server = {
    requested: [] as Tile[],
    async readTiles(tiles: Tile[]) {
      server.requested.push(...tiles);
      return Promise.all(
        tiles.map(async (t) => {
          const data = await readTileData(t, stored);
          tamper?.(t, data);
          return data;
        }),
      );
    },
  };
  return server;
}

describe("hashFromTile", () => {
  it("recomputes every stored hash of a tree from its tiles", async () => {
    const size = 1000;
    const count = storedHashIndex(0, size);
    const all = await stored.readHashes(Array.from({ length: count }, (_, i) => i));
    for (let x = 0; x < count; x++) {
      const { tile } = tileForStoredHash(x);
      const data = await readTileData(tile, stored);
      expect(hex(hashFromTile(tile, data, x))).toBe(hex(all[x] as Hash));
    }
  });

  it("refuses the wrong tile or short data", async () => {
    const x = storedHashIndex(0, 300);
    const tile = { level: 0, index: 1, width: 256 };
    const data = await readTileData(tile, stored);
    expect(() => hashFromTile({ level: 0, index: 0, width: 256 }, data, x)).toThrow(
      expect.objectContaining({ code: "bad-tile" }),
    );
    expect(() => hashFromTile({ level: 0, index: 1, width: 40 }, data, x)).toThrow(
      expect.objectContaining({ code: "bad-tile" }),
    );
    expect(() => hashFromTile(tile, data.subarray(0, 100), x)).toThrow(
      expect.objectContaining({ code: "bad-tile" }),
    );
  });
});

describe("tileHashReader", () => {
  const sizes = [1, 2, 3, 255, 256, 257, 511, 512, 513, 1000, 65_535, 65_536, 65_537, 69_999, N];

  it("gives the same roots and proofs as the in-memory tree, trusted or authenticated", async () => {
    for (const size of sizes) {
      const root = await treeHash(size, stored);
      if (size <= 1000) expect(hex(root)).toBe(hex(rootFromLeafHashes(leaves.slice(0, size))));
      for (const reader of [tileHashReader(size, tileServer()), tileHashReader(size, tileServer(), root)]) {
        expect(hex(await treeHash(size, reader))).toBe(hex(root));
        for (const index of new Set([0, size >> 1, size - 1, (size * 7) >> 3])) {
          const want =
            size <= 1000 ? inclusionProof(index, size, leaves) : await proveInclusion(size, index, stored);
          expect((await proveInclusion(size, index, reader)).map(hex)).toEqual(want.map(hex));
        }
        for (const size1 of new Set([1, size >> 1, size - 1].filter((s) => s > 0))) {
          const want =
            size <= 1000
              ? consistencyProof(size1, size, leaves)
              : await proveConsistency(size1, size, stored);
          expect((await proveConsistency(size1, size, reader)).map(hex)).toEqual(want.map(hex));
        }
      }
    }
  });

  it("rejects any tampered byte in any tile it reads when given the root", async () => {
    for (const [size, index] of [
      [N, 12_345],
      [N, N - 1],
      [65_536, 0],
      [513, 511],
    ] as const) {
      const root = await treeHash(size, stored);
      const clean = tileServer();
      await proveInclusion(size, index, tileHashReader(size, clean, root));
      expect(clean.requested.length).toBeGreaterThan(0);
      for (const target of clean.requested) {
        const spot = (index * 31 + target.index * 7) % (target.width * HASH_SIZE);
        const tampered = tileServer((t, data) => {
          if (tilePath(t) === tilePath(target)) data[spot] = (data[spot] as number) ^ 0x40;
        });
        const reader = tileHashReader(size, tampered, root);
        await expect(
          proveInclusion(size, index, reader),
          `${tilePath(target)} byte ${spot}`,
        ).rejects.toMatchObject({
          code: "bad-tile",
        });
      }
      // Without the root the tiles are trusted: the same tampering goes through unnoticed.
      const target = clean.requested[0] as Tile;
      const trusted = tileHashReader(
        size,
        tileServer((t, d) => tilePath(t) === tilePath(target) && d.fill(0)),
      );
      await expect(proveInclusion(size, index, trusted)).resolves.toBeDefined();
    }
  });

  it("reuses tiles it has authenticated instead of fetching them again", async () => {
    const size = N;
    const root = await treeHash(size, stored);
    const server = tileServer();
    const reader = tileHashReader(size, server, root);
    const first = await proveInclusion(size, 40_000, reader);
    const fetched = server.requested.length;
    // Same tiles: leaves 40,000 and 40,001 share every tile on the way up.
    expect((await proveInclusion(size, 40_000, reader)).map(hex)).toEqual(first.map(hex));
    expect((await proveInclusion(size, 40_001, reader)).map(hex)).toEqual(
      (await proveInclusion(size, 40_001, stored)).map(hex),
    );
    expect(server.requested.length).toBe(fetched);
    // A proof needing another level-0 tile fetches (and authenticates) again.
    expect((await proveInclusion(size, 10, reader)).map(hex)).toEqual(
      (await proveInclusion(size, 10, stored)).map(hex),
    );
    expect(server.requested.length).toBeGreaterThan(fetched);
  });

  it("rejects a wrong root, short tiles, a wrong tile count and hashes outside the tree", async () => {
    const root = await treeHash(1000, stored);
    const wrongRoot = await treeHash(999, stored);
    await expect(treeHash(1000, tileHashReader(1000, tileServer(), wrongRoot))).rejects.toMatchObject({
      code: "bad-tile",
    });
    const short: TileReader = {
      readTiles: async (tiles) => tiles.map((t) => new Uint8Array(t.width * HASH_SIZE - 1)),
    };
    await expect(treeHash(1000, tileHashReader(1000, short))).rejects.toMatchObject({ code: "bad-tile" });
    const missing: TileReader = {
      readTiles: async (tiles) => tiles.slice(1).map((t) => new Uint8Array(t.width * HASH_SIZE)),
    };
    await expect(treeHash(1000, tileHashReader(1000, missing, root))).rejects.toMatchObject({
      code: "bad-tile",
    });
    const reader: HashReader = tileHashReader(1000, tileServer(), root);
    await expect(reader.readHashes([storedHashIndex(0, 1000)])).rejects.toMatchObject({
      code: "invalid-proof-input",
    });
    await expect(tileHashReader(0, tileServer()).readHashes([0])).rejects.toMatchObject({
      code: "invalid-proof-input",
    });
    expect(() => tileHashReader(10, tileServer(), new Uint8Array(31))).toThrow(TlogError);
    expect(TILE_WIDTH).toBe(256);
  });
});

describe("tileHashReader over a 100-million-entry log", () => {
  const SIZE = 100_000_000;
  const { levels, hashes, root } = uniformTree();
  const uniformTiles = () => {
    const server = {
      calls: 0,
      tiles: 0,
      async readTiles(tiles: Tile[]) {
        server.calls++;
        server.tiles += tiles.length;
        return tiles.map((t) => {
          const data = new Uint8Array(t.width * HASH_SIZE);
          for (let i = 0; i < t.width; i++) data.set(levels[TILE_HEIGHT * t.level] as Hash, i * HASH_SIZE);
          return data;
        });
      },
    };
    return server;
  };

  it("authenticates and proves reading a handful of tiles in one call", async () => {
    for (const index of [0, 12_345_678, 67_108_864, SIZE - 1]) {
      const server = uniformTiles();
      const proof = await proveInclusion(SIZE, index, tileHashReader(SIZE, server, root(SIZE)));
      expect(proof.map(hex)).toEqual((await proveInclusion(SIZE, index, hashes)).map(hex));
      expect(verifyInclusion(levels[0] as Hash, index, SIZE, proof, root(SIZE))).toBe(true);
      expect(server.calls).toBe(1);
      expect(server.tiles).toBeLessThanOrEqual(8);
    }
  });
});
