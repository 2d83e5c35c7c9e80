// Rewriting a full bundle with tombstones, in each state a bundle file can be in (plain,
// compressed, both after a conversion a crash cut short, a damaged compressed file with and
// without the plain one, none), in this thread and on the compaction thread as the log does.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compressBundle, decompressBundle } from "../bundle-codec.js";
import { joinEntries, splitBundle } from "../bundle-format.js";
import { BundleCompactor } from "./compactor.js";
import { FsLogFiles } from "./files.js";
import { FsLayout } from "./layout.js";
import { writeRetention } from "./retention.js";
import { tombstoneBundleFile, tombstoneLines } from "./tombstone.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ENTRIES = Array.from({ length: 256 }, (_, i) => Buffer.from(`{"auditID":"t-${i}","user":"u-${i}"}`));
const PLAIN = joinEntries(ENTRIES);

/** A data directory with bundle 1 stored as `form`. */
function bundleIn(form: "plain" | "compressed" | "both" | "damaged" | "damaged+plain" | "none"): FsLayout {
  const layout = new FsLayout(mkdtempSync(path.join(os.tmpdir(), "kt-tombstone-")));
  dirs.push(layout.dir);
  mkdirSync(path.dirname(layout.bundle(1)), { recursive: true });
  const zst = compressBundle(PLAIN);
  if (form === "plain" || form === "both" || form === "damaged+plain") writeFileSync(layout.bundle(1), PLAIN);
  if (form === "compressed" || form === "both") writeFileSync(layout.compressedBundle(1), zst);
  if (form === "damaged" || form === "damaged+plain")
    writeFileSync(layout.compressedBundle(1), zst.subarray(0, zst.length - 40));
  return layout;
}

/** Bundle 1's entries as stored now (the compressed file if there is one). */
function stored(layout: FsLayout): { entries: string[] } {
  const data = existsSync(layout.compressedBundle(1))
    ? decompressBundle(readFileSync(layout.compressedBundle(1)), "bundle 1")
    : readFileSync(layout.bundle(1));
  return { entries: splitBundle(data).map((e) => Buffer.from(e).toString()) };
}

const expected = (lines: number[]) => ENTRIES.map((e, i) => (lines.includes(i) ? "" : e.toString()));

describe("tombstoneBundleFile", () => {
  it("empties the lines in the form the bundle is stored in", () => {
    for (const [form, after] of [
      ["plain", { plain: true, compressed: false }],
      ["compressed", { plain: false, compressed: true }],
      // A conversion cut short: the compressed file is the truth, the plain one goes.
      ["both", { plain: false, compressed: true }],
      // A damaged compressed file is read past, as readers do.
      ["damaged+plain", { plain: true, compressed: true }],
    ] as const) {
      const layout = bundleIn(form);
      mkdirSync(layout.partialDir(layout.bundle(1)), { recursive: true });
      expect(tombstoneBundleFile(layout, 1, [0, 17, 255]), form).toBe("rewritten");
      expect(
        { plain: existsSync(layout.bundle(1)), compressed: existsSync(layout.compressedBundle(1)) },
        form,
      ).toEqual(after);
      const now = stored(form === "damaged+plain" ? withoutDamaged(layout) : layout);
      expect(now.entries, form).toEqual(expected([0, 17, 255]));
      expect(existsSync(layout.partialDir(layout.bundle(1))), form).toBe(false);
    }
  });

  it("says absent when there is no file, and calls a damaged file without a plain one corrupt", () => {
    expect(tombstoneBundleFile(bundleIn("none"), 1, [3])).toBe("absent");
    expect(() => tombstoneBundleFile(bundleIn("damaged"), 1, [3])).toThrow(
      expect.objectContaining({ code: "corrupt", message: expect.stringContaining("entry bundle 1") }),
    );
  });

  it("refuses a bundle that does not hold 256 entries", () => {
    const layout = bundleIn("plain");
    writeFileSync(layout.bundle(1), joinEntries(ENTRIES.slice(0, 200)));
    expect(() => tombstoneBundleFile(layout, 1, [3])).toThrow(
      expect.objectContaining({ code: "corrupt", message: "entry bundle 1 holds 200 entries" }),
    );
  });
});

/** The layout with the damaged compressed file removed, so stored() reads the plain one. */
function withoutDamaged(layout: FsLayout): FsLayout {
  rmSync(layout.compressedBundle(1));
  return layout;
}

describe("tombstoneLines on the compaction thread", () => {
  it("rewrites there, keeps a corrupt bundle's error code, and skips a pruned bundle", async () => {
    const layout = bundleIn("compressed");
    const compactor = new BundleCompactor(layout, { onThread: true });
    const files = new FsLogFiles(layout.dir);
    try {
      const rewrite = compactor.tombstone;
      expect(
        await compactor.exclusive(() => tombstoneLines(layout, files, 1, new Set([5, 6]), rewrite)),
      ).toBe(true);
      expect(stored(layout).entries).toEqual(expected([5, 6]));

      writeFileSync(layout.compressedBundle(1), Buffer.from("not zstd"));
      await expect(tombstoneLines(layout, files, 1, new Set([7]), rewrite)).rejects.toMatchObject({
        code: "corrupt",
        message: expect.stringContaining("rewriting entry bundle 1 with tombstones"),
      });
      rmSync(layout.compressedBundle(1));
      await expect(tombstoneLines(layout, files, 1, new Set([7]), rewrite)).rejects.toMatchObject({
        code: "corrupt",
        message: "entry bundle 1 is missing",
      });
      // Pruned: false, whatever files a crash left.
      await writeRetention(layout.retention, { prunedBefore: 512, reason: "test" });
      writeFileSync(layout.bundle(1), PLAIN);
      expect(await tombstoneLines(layout, files, 1, new Set([7]), rewrite)).toBe(false);
      expect(readFileSync(layout.bundle(1))).toEqual(PLAIN);
    } finally {
      await compactor.close();
    }
  });
});
