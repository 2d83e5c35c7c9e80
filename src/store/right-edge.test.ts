import { describe, expect, it } from "vitest";
import { hashLeaf, type Hash } from "../tlog/index.js";
import { rightEdgeAt } from "./right-edge.js";
import { TileBuilder } from "./tile-builder.js";

const leaf = (i: number): Hash => hashLeaf(new TextEncoder().encode(`entry ${i}`));
const hex = (h: Uint8Array) => Buffer.from(h).toString("hex");

describe("rightEdgeAt", () => {
  // One tree grown leaf by leaf; its full tiles are the "disk" the right edge is rebuilt from.
  const total = 256 * 256 + 256 * 3 + 7;
  const leaves: Hash[] = [];
  const fullTiles = new Map<string, Uint8Array>();
  const grown = new TileBuilder();
  const snapshots = new Map<number, TileBuilder>();
  const sizes = [0, 1, 255, 256, 257, 511, 512, 1000, 256 * 256 - 1, 256 * 256, 256 * 256 + 1, total];
  for (let i = 0; i < total; i++) {
    if (sizes.includes(i)) snapshots.set(i, grown.clone());
    leaves.push(leaf(i));
    for (const t of grown.push(leaves[i]!)) fullTiles.set(`${t.tile.level}/${t.tile.index}`, t.data);
  }
  snapshots.set(total, grown.clone());
  const source = (tiles: Map<string, Uint8Array>) => ({
    readFullTile: async (level: number, index: number) => tiles.get(`${level}/${index}`) ?? null,
    leafHashes: async (start: number, end: number) => leaves.slice(start, end),
  });

  it.each(sizes)("gives the builder of the grown tree at size %i", async (size) => {
    const rebuilt = await rightEdgeAt(size, source(fullTiles));
    const expected = snapshots.get(size)!;
    expect(rebuilt.size).toBe(size);
    expect(hex(rebuilt.root())).toBe(hex(expected.root()));
    expect(rebuilt.partialTiles().map((t) => [t.tile, hex(t.data)])).toEqual(
      expected.partialTiles().map((t) => [t.tile, hex(t.data)]),
    );
    // And it continues exactly like the original: the next full tile comes out the same.
    const next = rebuilt.clone();
    const want = expected.clone();
    for (let i = size; i < Math.min(total, size + 300); i++) {
      expect(next.push(leaves[i]!).map((t) => hex(t.data))).toEqual(
        want.push(leaves[i]!).map((t) => hex(t.data)),
      );
    }
    expect(hex(next.root())).toBe(hex(want.root()));
  });

  it("reads only full tiles inside the tree, and names one that is missing", async () => {
    const missing = new Map(fullTiles);
    missing.delete("0/2"); // 1000 = 3 full level-0 tiles + 232 leaves: tiles 0/0–0/2 are read
    await expect(rightEdgeAt(1000, source(missing))).rejects.toMatchObject({
      code: "corrupt",
      message: expect.stringContaining("hash tile 0/2"),
    });
    const short = new Map(fullTiles);
    short.set("0/1", fullTiles.get("0/1")!.subarray(0, 100));
    await expect(rightEdgeAt(1000, source(short))).rejects.toMatchObject({ code: "corrupt" });
    const onlyInside = new Map([...fullTiles].filter(([k]) => ["0/0", "0/1", "0/2"].includes(k)));
    await expect(rightEdgeAt(1000, source(onlyInside))).resolves.toBeInstanceOf(TileBuilder);
    // At 256·256 no level-0 tile is read: level 2's partial row is the root of full tile 1/0.
    const level1 = new Map([["1/0", fullTiles.get("1/0")!]]);
    await expect(rightEdgeAt(256 * 256, source(level1))).resolves.toBeInstanceOf(TileBuilder);
  });
});
