// Disaster recovery: a new primary from a copy of the log (a mirror's, or any tlog-tiles
// server's). The copy's checkpoint must be signed by the pinned log key (and carry the witness
// quorum asked for); every entry is read from it, hashed, and appended in order to a new log
// in DATA, signing with the log's own key restored from its backup. An entry erased or thinned
// there (an empty line) is appended as the same tombstone with the leaf hash the copy's tile
// publishes for it. The bundles retention pruned (a prefix of the log) are appended as
// tombstones the same way and, once in the new tree, pruned again with the copy's reason: the
// retention records that pruned them are entries like any other. The entries must give the
// copy's signed root, and the new log's first checkpoint of that size has the same root: it is
// the same log, continuing, so `verify --from` any older checkpoint passes on it and witnesses
// holding an older checkpoint keep cosigning it. See docs/operations.md.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { FsLogFiles } from "../store/fs/files.js";
import { compactStoppedLog, openFsLog } from "../store/fs/storage.js";
import { splitBundle } from "../store/bundle-format.js";
import { TileBuilder } from "../store/tile-builder.js";
import {
  hashesEqual,
  hashLeaf,
  NoteSigner,
  NoteVerifier,
  TILE_WIDTH,
  type Checkpoint,
} from "../tlog/index.js";
import { openWitnessedCheckpoint, type WitnessPolicy } from "../verify/witness-policy.js";
import { WitnessError } from "../witness/errors.js";
import { bundleCodec } from "./bundle-codec.js";
import {
  readEntriesInOrder,
  TilesClientError,
  type FetchedBundle,
  type TilesClient,
} from "./tiles-client.js";

export type RestoreSource = { dir: string } | { client: TilesClient };

export interface RestoreOptions {
  source: RestoreSource;
  /** The log's verifier key, pinned by the operator. */
  verifierKey: string;
  /** The log's signer key text (the backup of DATA/keys/signing.key). */
  signerKey: string;
  /** The backup of DATA/keys/redaction.key, so masked values keep their tags. */
  redactionKey?: string;
  dataDir: string;
  witnesses?: WitnessPolicy | null;
  onProgress?: (done: number, total: number) => void;
  /** Hears the compression of the new log's bundles, its last step (bundles done, of all). */
  onCompressProgress?: (done: number, total: number) => void;
}

export interface RestoreResult {
  origin: string;
  size: number;
  /** The copy's checkpoint the new log continues from. */
  from: string;
  /** The new log's checkpoint of the same tree. */
  checkpoint: string;
}

/** Entries appended per commit of the new log. */
const BATCH = 4096;

/** A bundle of the copy: its entries, or why retention removed it. */
type CopyBundle = { entries: Uint8Array[] } | { prunedBy: string };

const TOMBSTONE = new Uint8Array(0);

function fail(message: string): WitnessError {
  return new WitnessError("config", message);
}

export async function restoreLog(o: RestoreOptions): Promise<RestoreResult> {
  const verifier = NoteVerifier.fromKey(o.verifierKey);
  const signer = NoteSigner.fromKey(o.signerKey);
  if (signer.verifierKey !== verifier.key)
    throw fail(`the signing key is not the key of ${verifier.name} given with --key`);
  if ((await readFileIfExists(path.join(o.dataDir, "checkpoint"))) !== null)
    throw fail(`${o.dataDir} already holds a log: restore into a new directory`);
  const note =
    "dir" in o.source
      ? ((await new FsLogFiles(o.source.dir).readCheckpoint())?.toString() ?? null)
      : await o.source.client.checkpoint();
  if (note === null) throw fail(`${"dir" in o.source ? o.source.dir : o.source.client.url}: no checkpoint`);
  let cp: Checkpoint;
  try {
    cp = openWitnessedCheckpoint(note, [verifier], o.witnesses ?? null);
  } catch (err) {
    throw fail(`the copy's checkpoint: ${(err as Error).message}`);
  }

  const source = o.source;
  const files = "dir" in source ? new FsLogFiles(source.dir) : undefined;
  const bundleOf =
    "dir" in source
      ? async (index: number, width: number): Promise<CopyBundle> => {
          const bundle = await files!.readEntryBundle(index, width);
          if (bundle?.gone?.state === "pruned") return { prunedBy: bundle.gone.reason };
          if (bundle === null || bundle.data === undefined)
            throw fail(
              `${source.dir}: entry bundle ${index} is ${bundle === null ? "missing" : bundle.gone.state}`,
            );
          return { entries: splitBundle(bundle.data) };
        }
      : (index: number, width: number): Promise<CopyBundle> =>
          source.client.entries(index, width, bundleCodec("ndjson")).then(
            (entries) => ({ entries }),
            (err: unknown) => {
              if (err instanceof TilesClientError && err.code === "pruned") return { prunedBy: err.message };
              throw err;
            },
          );
  const levelZero = async (index: number, width: number, why: string): Promise<Uint8Array[]> => {
    const tile = { level: 0, index, width };
    const data = "dir" in source ? await files!.readTile(tile) : await source.client.tile(tile);
    if (data === null || data.length < width * 32)
      throw fail(`the copy's level-0 tile ${index} is missing: ${why}`);
    return Array.from({ length: width }, (_, i) => data.subarray(i * 32, i * 32 + 32));
  };
  // An erased or thinned entry is an empty line, and a pruned bundle has none: their leaf
  // hashes are those the copy published (checked with the rest against the signed root below),
  // and each is copied as a tombstone.
  const read = async (index: number, width: number): Promise<FetchedBundle> => {
    const got = await bundleOf(index, width);
    if ("prunedBy" in got) {
      if (width < TILE_WIDTH)
        throw fail(`the copy says its partial entry bundle ${index} was pruned: only full bundles are`);
      const leaves = await levelZero(index, width, "its pruned entries have no leaf hash");
      return { entries: leaves.map(() => TOMBSTONE), leaves, pruned: { leaves, reason: got.prunedBy } };
    }
    const { entries } = got;
    if (!entries.some((e) => e.length === 0)) return { entries };
    const published = await levelZero(index, width, "its erased entries have no leaf hash");
    return { entries, leaves: entries.map((e, i) => (e.length === 0 ? published[i]! : hashLeaf(e))) };
  };
  // Before anything is written: a copy that cannot give its first bundle (missing, no read
  // token) fails here, leaving no half-made data directory that a second try would refuse.
  if (cp.size > 0) await read(0, Math.min(TILE_WIDTH, cp.size));

  const keys = path.join(o.dataDir, "keys");
  await fsp.mkdir(keys, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(keys, "signing.key"), o.signerKey.trim() + "\n", 0o600);
  await writeFileAtomic(path.join(keys, "verifier.key"), verifier.key + "\n", 0o644);
  if (o.redactionKey !== undefined)
    await writeFileAtomic(path.join(keys, "redaction.key"), o.redactionKey.trim() + "\n", 0o600);

  // How far the copy's bundles are pruned, and why (the reason its retention gave).
  let pruned = { before: 0, reason: "" };
  // Bundles are written plain and compressed once, at the end: compressing during the replay
  // would spend the CPU on bundles that are about to be pruned, and closing leaves whatever its
  // background compaction had not reached plain.
  const log = await openFsLog(o.dataDir, { origin: cp.origin, compressLevel: null });
  try {
    const tree = new TileBuilder();
    let batch: Uint8Array[] = [];
    let leaves: Uint8Array[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await log.append(batch, leaves, { tombstones: true });
      batch = [];
      leaves = [];
      o.onProgress?.(tree.size, cp.size);
    };
    await readEntriesInOrder(read, 0, cp.size, async ({ entries, leaves: given, pruned: gone }) => {
      if (gone) {
        if (pruned.before !== tree.size)
          throw fail(
            `the copy's entry bundle ${tree.size / TILE_WIDTH} is pruned after bundles it holds: retention prunes only from the start`,
          );
        pruned = { before: tree.size + entries.length, reason: gone.reason };
      }
      for (const [i, e] of entries.entries()) {
        const leaf = given?.[i] ?? hashLeaf(e);
        tree.push(leaf);
        batch.push(e);
        leaves.push(leaf);
      }
      if (batch.length >= BATCH) await flush();
    });
    await flush();
    if (tree.size !== cp.size || !hashesEqual(tree.root(), cp.rootHash))
      throw new WitnessError(
        "corrupt",
        `the copy's entries do not give the root of its signed checkpoint of size ${cp.size}`,
      );
    const restored = await log.waitIntegrated(cp.size);
    if (restored.size !== cp.size || !hashesEqual(restored.rootHash, cp.rootHash))
      throw new WitnessError(
        "corrupt",
        `the new log's checkpoint of size ${restored.size} differs from the copy's`,
      );
    // Closed first: pruning needs the tiles of those bundles durable, which closing makes them.
    await log.close();
    if (pruned.before > 0) await prune(o.dataDir, pruned.before, `as in the copy restored: ${pruned.reason}`);
    await compactStoppedLog(o.dataDir, o.onCompressProgress ? { onProgress: o.onCompressProgress } : {});
    return { origin: cp.origin, size: cp.size, from: note, checkpoint: restored.note };
  } finally {
    await log.close();
  }
}

/** Prunes the restored log's bundles below `before`, as its copy had them. */
async function prune(dataDir: string, before: number, reason: string): Promise<void> {
  const log = await openFsLog(dataDir);
  try {
    await log.driver.pruneBundles(before, reason);
  } finally {
    await log.close();
  }
}
