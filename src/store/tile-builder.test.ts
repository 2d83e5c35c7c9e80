import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashLeaf, rootFromLeafHashes, type Hash } from "../tlog/index.js";
import { partialWidth, splitTileData, TileBuilder, type TileData } from "./tile-builder.js";

const sha256Hex = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

const leaf = (i: number): Hash => hashLeaf(new TextEncoder().encode(`entry ${i}`));

describe("TileBuilder", () => {
  it("gives the RFC 6962 root at every size up to 1100", () => {
    const b = new TileBuilder();
    const leaves: Hash[] = [];
    expect(Buffer.from(b.root())).toEqual(Buffer.from(rootFromLeafHashes([])));
    for (let i = 0; i < 1100; i++) {
      leaves.push(leaf(i));
      b.push(leaves[i]!);
      expect(Buffer.from(b.root()).toString("hex"), `size ${i + 1}`).toBe(
        Buffer.from(rootFromLeafHashes(leaves)).toString("hex"),
      );
    }
  });

  it("emits each full tile once with the hashes of its level", () => {
    const b = new TileBuilder();
    const leaves: Hash[] = [];
    const full = [];
    for (let i = 0; i < 256 * 256 + 5; i++) {
      leaves.push(leaf(i));
      full.push(...b.push(leaves[i]!));
    }
    // 256 level-0 tiles and one level-1 tile.
    expect(full.filter((t) => t.tile.level === 0)).toHaveLength(256);
    const level1 = full.filter((t) => t.tile.level === 1);
    expect(level1).toHaveLength(1);
    const tile7 = full.find((t) => t.tile.level === 0 && t.tile.index === 7)!;
    expect(splitTileData(tile7.data).map((h) => Buffer.from(h).toString("hex"))).toEqual(
      leaves.slice(7 * 256, 8 * 256).map((h) => Buffer.from(h).toString("hex")),
    );
    // A level-1 hash is the root of the level-0 tile below it.
    expect(Buffer.from(splitTileData(level1[0]!.data)[7]!)).toEqual(
      Buffer.from(rootFromLeafHashes(leaves.slice(7 * 256, 8 * 256))),
    );
    expect(b.partialTiles().map((t) => t.tile)).toEqual([
      { level: 0, index: 256, width: 5 },
      { level: 2, index: 0, width: 1 },
    ]);
  });

  it("resumes from its partial tiles exactly where it left off", () => {
    const a = new TileBuilder();
    for (let i = 0; i < 70_000; i++) a.push(leaf(i));
    const rows = [0, 1, 2].map((level) => {
      const t = a.partialTiles().find((p) => p.tile.level === level);
      return t ? splitTileData(t.data) : [];
    });
    expect(rows.map((r) => r.length)).toEqual([0, 1, 2].map((l) => partialWidth(70_000, l)));
    const b = new TileBuilder(70_000, rows);
    expect(Buffer.from(b.root())).toEqual(Buffer.from(a.root()));
    for (let i = 70_000; i < 70_300; i++) {
      expect(b.push(leaf(i))).toEqual(a.push(leaf(i)));
    }
    expect(Buffer.from(b.root())).toEqual(Buffer.from(a.root()));
  });

  it("folds leaves with level-0 roots given from elsewhere exactly as it does alone", () => {
    // Slices that start mid-tile, fill several tiles, fill none, and end on a tile boundary.
    const slices = [100, 700, 3, 153, 256 * 255, 512];
    const alone = new TileBuilder();
    const given = new TileBuilder();
    let next = 0;
    for (const n of slices) {
      const leaves = Array.from({ length: n }, (_, i) => leaf(next + i));
      next += n;
      const tiles = given.fillingTiles(leaves);
      const roots: Hash[] = [];
      for (let at = 0; at < tiles.length; at += 8192)
        roots.push(rootFromLeafHashes(splitTileData(tiles.subarray(at, at + 8192))));
      expect(roots).toHaveLength(Math.floor(((given.size % 256) + n) / 256));
      const digest = (tiles: TileData[]) =>
        tiles.map((t) => `${t.tile.level}/${t.tile.index}/${t.tile.width} ${sha256Hex(t.data)}`);
      const expected = digest(leaves.flatMap((h) => alone.push(h)));
      expect(digest(given.pushAll(leaves, roots))).toEqual(expected);
      expect(given.size).toBe(alone.size);
      expect(Buffer.from(given.root())).toEqual(Buffer.from(alone.root()));
    }
    expect(() => given.pushAll([leaf(0)], [leaf(1)])).toThrow(/fill 0 level-0 tiles, but 1 roots/);
  });

  it("refuses rows that do not fit the size", () => {
    expect(() => new TileBuilder(300, [[leaf(0)]])).toThrow(/level 0/);
  });
});
