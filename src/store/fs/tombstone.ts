// Tombstoning entries in a full bundle file: the lines become empty (the format's tombstone) and
// the bundle is rewritten whole, in the form it is stored (compressed or plain), atomically and
// durably; partial versions of it are removed. The leaf hashes stay in the tiles. Erasure and
// retention thinning do it to a log (FsDriver.eraseEntries), and a mirror to its copy when it
// follows the log's records (mirror/removals.ts).
import { promises as fsp } from "node:fs";
import { compressBundle } from "../bundle-codec.js";
import { joinEntries, splitBundle } from "../bundle-format.js";
import { writeFileAtomic } from "../durable-file.js";
import { BUNDLE_SIZE, LogError } from "../types.js";
import type { FsLogFiles } from "./files.js";
import type { FsLayout } from "./layout.js";

/**
 * Empties lines `lines` (positions in the bundle) of full bundle `index`. Returns false when the
 * bundle is gone (pruned), true once rewritten; a missing or short bundle is a LogError("corrupt").
 */
export async function tombstoneLines(
  layout: FsLayout,
  files: FsLogFiles,
  index: number,
  lines: ReadonlySet<number>,
): Promise<boolean> {
  const got = await files.readEntryBundle(index, BUNDLE_SIZE);
  if (got === null) throw new LogError("corrupt", `entry bundle ${index} is missing`);
  if (got.gone !== undefined) return false;
  const entries = splitBundle(got.data);
  if (entries.length !== BUNDLE_SIZE)
    throw new LogError("corrupt", `entry bundle ${index} holds ${entries.length} entries`);
  const data = joinEntries(entries.map((e, i) => (lines.has(i) ? new Uint8Array(0) : e)));
  const compressed = layout.compressedBundle(index);
  const wasCompressed = await fsp.stat(compressed).then(
    () => true,
    () => false,
  );
  if (wasCompressed) {
    await writeFileAtomic(compressed, compressBundle(data));
    await fsp.rm(layout.bundle(index), { force: true });
  } else {
    await writeFileAtomic(layout.bundle(index), data);
  }
  await fsp.rm(layout.partialDir(layout.bundle(index)), { recursive: true, force: true });
  return true;
}
