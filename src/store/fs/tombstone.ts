// Tombstoning entries in a full bundle file: the lines become empty (the format's tombstone) and
// the bundle is rewritten whole, in the form it is stored (compressed or plain), atomically and
// durably; partial versions of it are removed. The leaf hashes stay in the tiles. Erasure and
// retention thinning do it to a log (FsDriver.eraseEntries, on the compaction thread, so the
// decompressing and compressing stay off serve's event loop), and a mirror to its copy when it
// follows the log's records (mirror/removals.ts).
//
// A compressed file that decompresses is the truth (a plain one beside it is what a conversion
// left behind, removed here); one that does not is read past to the plain file if there is one,
// as readers do, and is otherwise damage.
import fs from "node:fs";
import {
  compressBundle,
  decompressBundle,
  DEFAULT_ENTRIES_PER_FRAME,
  DEFAULT_LEVEL,
} from "../bundle-codec.js";
import { joinEntries, splitBundle } from "../bundle-format.js";
import { BUNDLE_SIZE, LogError } from "../types.js";
import { readIfExists, replaceFileSync } from "./compact-bundle.js";
import type { FsLogFiles } from "./files.js";
import type { FsLayout } from "./layout.js";

/** What tombstoneBundleFile found: "absent" when the bundle has no file (pruned, or lost). */
export type TombstoneOutcome = "rewritten" | "absent";

/** Rewrites a bundle with lines emptied: tombstoneBundleFile here or on another thread. */
export type TombstoneRewrite = (index: number, lines: readonly number[]) => Promise<TombstoneOutcome>;

/** Empties lines `lines` (positions in the bundle) of full bundle `index`; synchronous. */
export function tombstoneBundleFile(
  layout: FsLayout,
  index: number,
  lines: readonly number[],
  level = DEFAULT_LEVEL,
  perFrame = DEFAULT_ENTRIES_PER_FRAME,
): TombstoneOutcome {
  const compressedFile = layout.compressedBundle(index);
  const plainFile = layout.bundle(index);
  const stored = readIfExists(compressedFile);
  let data: Buffer | null = null;
  let damage: unknown;
  if (stored !== null) {
    try {
      data = decompressBundle(stored, compressedFile);
    } catch (err) {
      damage = err;
    }
  }
  const compressed = data !== null;
  data ??= readIfExists(plainFile);
  if (data === null) {
    if (damage === undefined) return "absent";
    throw new LogError("corrupt", `entry bundle ${index}: ${(damage as Error).message}`, { cause: damage });
  }
  const entries = splitBundle(data);
  if (entries.length !== BUNDLE_SIZE)
    throw new LogError("corrupt", `entry bundle ${index} holds ${entries.length} entries`);
  const emptied = new Set(lines);
  const rewritten = joinEntries(entries.map((e, i) => (emptied.has(i) ? new Uint8Array(0) : e)));
  if (compressed) {
    replaceFileSync(compressedFile, compressBundle(rewritten, level, perFrame));
    fs.rmSync(plainFile, { force: true });
  } else {
    replaceFileSync(plainFile, rewritten);
  }
  fs.rmSync(layout.partialDir(plainFile), { recursive: true, force: true });
  return "rewritten";
}

/**
 * Empties lines `lines` of full bundle `index` by way of `rewrite` (in this thread by default).
 * Returns false when the bundle is gone (pruned), true once rewritten; a missing or short bundle
 * is a LogError("corrupt").
 */
export async function tombstoneLines(
  layout: FsLayout,
  files: FsLogFiles,
  index: number,
  lines: ReadonlySet<number>,
  rewrite: TombstoneRewrite = async (i, l) => tombstoneBundleFile(layout, i, l),
): Promise<boolean> {
  // Pruned first, as DATA/retention is now: a crash may leave the file of a bundle retention
  // counts as removed. (A small read beside rewriting a bundle, so not cached.)
  if (await files.pruned(index, true)) return false;
  if ((await rewrite(index, [...lines])) === "rewritten") return true;
  throw new LogError("corrupt", `entry bundle ${index} is missing`);
}
