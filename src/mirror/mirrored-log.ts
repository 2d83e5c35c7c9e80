// One log's copy in a mirror: DATA/logs/<origin hash>/ in tlog-tiles layout (checkpoint,
// tile/<L>/<N>, tile/entries/<N>), the same layout as a kubetrail data directory, so a copy of
// a kubetrail log can become a new primary (docs/operations.md).
//
// Entries arrive in order (pushed by the log with proofs, or pulled from its tiles) and are
// written to their bundle files at once; their hash tiles are built here from the entries. The
// mirror checkpoint moves only in commit(): every file written since the last commit is synced
// first, the tree must give the log's signed root, and only then is the checkpoint — the log's
// note and the mirror's cosignature — written. So what the mirror cosigned is always on disk.
// Entries beyond the mirror checkpoint are not trusted after a restart: they are dropped and
// uploaded again.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { FsLayout } from "../store/fs/layout.js";
import {
  readRetention,
  removeBundleFiles,
  writeRetention,
  type RetentionRecord,
} from "../store/fs/retention.js";
import { writeVerifierKey } from "../store/fs/keys.js";
import { FsLogFiles } from "../store/fs/files.js";
import {
  readCount,
  readFileIfExists,
  settleAll,
  settleEach,
  syncFiles,
  writeFileAtomic,
  WriteOnceFileBatch,
} from "../store/durable-file.js";
import { decompressBundle } from "../store/bundle-codec.js";
import { rightEdgeAt } from "../store/right-edge.js";
import { partialWidth, TileBuilder, type TileData } from "../store/tile-builder.js";
import {
  type CosignatureSigner,
  type Hash,
  type NoteVerifier,
  hashesEqual,
  hashLeaf,
  openCheckpoint,
  signNote,
  splitNote,
  TILE_WIDTH,
  type NoteSignature,
  type Tile,
} from "../tlog/index.js";
import { WitnessError } from "../witness/errors.js";
import { originHash } from "../witness/witness.js";
import { bundleCodec, type BundleCodec } from "./bundle-codec.js";
import { Removals } from "./removals.js";
import { tombstoneLines } from "../store/fs/tombstone.js";
import type { BundleFormat } from "../witness/logs-config.js";

export interface MirrorCheckpoint {
  size: number;
  rootHash: Hash;
  /** The log's signed note with the mirror's cosignature. */
  note: string;
}

/**
 * DATA/logs/<origin hash>/removals-applied: the entries whose records the copy has applied
 * (removals.ts). Derived: lost, the records after the last one known are read again.
 */
const REMOVALS_FILE = "removals-applied";

/** Files synced at once when a commit makes the written entries and tiles durable. */
const SYNC_PARALLEL = 16;

/**
 * Batches of files an append may leave being written while the next entries are checked and
 * hashed: creating files waits on the filesystem, and awaiting each batch left the pull's
 * thread idle for a third of a catch-up.
 */
const WRITES_BEHIND = 8;

export class MirroredLog {
  readonly dir: string;
  readonly codec: BundleCodec;
  private readonly layout: FsLayout;
  private readonly files: FsLogFiles;
  private builder = new TileBuilder();
  private current: MirrorCheckpoint | null = null;
  /** Files written since the last commit (synced by it). */
  private unsynced = new Set<string>();
  /** File batches still being written (at most WRITES_BEHIND); commit waits for them. */
  private writes: Promise<void>[] = [];
  /** Bytes of the bundle being filled (the entries of the partial bundle at `next`). */
  private openBundle: Uint8Array[] = [];
  /** Directories known to exist, so each batch of files does not create them again. */
  private readonly knownDirs = new Set<string>();
  /** Which bundles the copy holds as pruned by the log (DATA/retention), as of the last commit. */
  private retention: RetentionRecord | null = null;
  /** The same, with the pruned bundles appended since (written by the next commit). */
  private pendingRetention: RetentionRecord | null = null;
  /** The log key written to keys/verifier.key by this process, if any. */
  private verifierKey: string | undefined;
  /** What the log's records among the entries appended remove, applied after each commit. */
  private readonly removals = new Removals();

  private constructor(
    dataDir: string,
    readonly origin: string,
    readonly logKeys: readonly NoteVerifier[],
    format: BundleFormat,
  ) {
    this.dir = path.join(dataDir, "logs", originHash(origin));
    this.layout = new FsLayout(this.dir);
    this.files = new FsLogFiles(this.dir);
    this.codec = bundleCodec(format);
  }

  /**
   * Opens the copy of `origin` in dataDir (empty when new): back to its mirror checkpoint, the
   * tree's right edge rebuilt from its tiles (from every entry when they do not give the root).
   */
  static async open(
    dataDir: string,
    origin: string,
    logKeys: readonly NoteVerifier[],
    format: BundleFormat,
    onRepair?: (message: string) => void,
  ): Promise<MirroredLog> {
    const log = new MirroredLog(dataDir, origin, logKeys, format);
    await fsp.mkdir(log.dir, { recursive: true });
    await log.recover(onRepair);
    return log;
  }

  /** The first entry the mirror does not hold. */
  get next(): number {
    return this.builder.size;
  }

  checkpoint(): MirrorCheckpoint | null {
    return this.current;
  }

  /** Leaf hashes of entries [start, next) of the bundle being filled (start on its boundary or after). */
  openLeaves(start: number): Hash[] {
    const first = this.next - this.openBundle.length;
    if (start < first) throw new WitnessError("corrupt", `entries before ${first} are no longer in memory`);
    return this.openBundle.slice(start - first).map((e) => hashLeaf(e));
  }

  /**
   * Appends entries [next, next + entries.length) — checked by the caller against the log's
   * checkpoint — to their bundle files and tiles. Not durable until commit(). `frame`, the
   * zstd frame a whole full bundle came in, is stored as it is (`<N>.zst`, as kubetrail keeps
   * sealed bundles) instead of the bundle re-encoded: fewer bytes to write and to serve.
   */
  async append(
    entries: readonly Uint8Array[],
    givenLeaves?: readonly Hash[],
    frame?: Uint8Array,
  ): Promise<void> {
    // With the leaf hashes given (from the log's tile), an empty entry is an erased one's
    // tombstone, kept as the log keeps it; otherwise every entry must be one the layout can hold.
    const leaves = givenLeaves ?? entries.map((e) => hashLeaf(e));
    const asReceived = frame !== undefined && this.openBundle.length === 0 && entries.length === TILE_WIDTH;
    const batch = new WriteOnceFileBatch(this.knownDirs);
    let i = 0;
    while (i < entries.length) {
      const room = TILE_WIDTH - this.openBundle.length;
      const take = entries.slice(i, i + room);
      for (const e of take) {
        if (e.length === 0 && givenLeaves !== undefined && this.codec.format === "ndjson") continue;
        const problem = this.codec.check(e);
        if (problem)
          throw new WitnessError(
            "config",
            `entry ${this.next + i}: ${problem} (bundles: ${this.codec.format})`,
          );
      }
      if (this.codec.format === "ndjson") take.forEach((e, k) => this.removals.note(e, this.next + i + k));
      this.openBundle.push(...take);
      const bundleIndex = Math.floor((this.next + i) / TILE_WIDTH);
      const full = this.openBundle.length === TILE_WIDTH;
      if (asReceived) batch.add(this.layout.compressedBundle(bundleIndex), frame);
      else
        batch.add(
          full
            ? this.layout.bundle(bundleIndex)
            : this.layout.partialBundle(bundleIndex, this.openBundle.length),
          this.codec.encode(this.openBundle),
        );
      const completed: TileData[] = [];
      for (const leaf of leaves.slice(i, i + take.length)) completed.push(...this.builder.push(leaf));
      for (const t of completed) batch.add(this.layout.hashTile(t.tile), t.data);
      if (full) this.openBundle = [];
      i += take.length;
    }
    await this.write(batch);
  }

  /** Starts writing `batch`, waiting for the oldest batch still being written if too many are. */
  private async write(batch: WriteOnceFileBatch): Promise<void> {
    const done = batch.commit({ sync: false }).then(() => {
      for (const f of batch.paths) this.unsynced.add(f);
    });
    // A failure is thrown by the append or commit that waits for it.
    done.catch(() => undefined);
    this.writes.push(done);
    if (this.writes.length > WRITES_BEHIND) await this.writes.shift();
  }

  /** Waits for every batch still being written; throws the first failure. */
  private async writesDone(): Promise<void> {
    const writes = this.writes;
    this.writes = [];
    await settleAll(writes);
  }

  /**
   * Appends the rest of a full bundle the log pruned: its leaf hashes (from the log's level-0
   * tile; with everything else, checked against the signed root at commit) and no entries. Its
   * place is recorded as pruned, with the log's reason, as the log's own retention does (a
   * prefix: DATA/retention), so readers and `verify --data` of the copy report it as pruned,
   * and the log's retention record, which the copy holds too, says by whom.
   */
  async appendPruned(leaves: readonly Hash[], reason: string): Promise<void> {
    const bundle = Math.floor(this.next / TILE_WIDTH);
    if (leaves.length !== (bundle + 1) * TILE_WIDTH - this.next)
      throw new WitnessError("corrupt", `pruned bundle ${bundle}: ${leaves.length} leaf hashes for its rest`);
    const prunedBefore = (this.pendingRetention ?? this.retention)?.prunedBefore ?? 0;
    if (bundle * TILE_WIDTH > prunedBefore)
      throw new WitnessError(
        "config",
        `the log pruned entry bundle ${bundle} before this copy fetched it, and the copy holds entries ${prunedBefore}–${bundle * TILE_WIDTH - 1} the log had not pruned yet: a copy can be pruned only from its start. Start a new copy to follow the log; this one still verifies as it is`,
      );
    const batch = new WriteOnceFileBatch(this.knownDirs);
    for (const leaf of leaves)
      for (const t of this.builder.push(leaf)) batch.add(this.layout.hashTile(t.tile), t.data);
    await this.write(batch);
    this.openBundle = [];
    this.pendingRetention = { prunedBefore: Math.max(prunedBefore, (bundle + 1) * TILE_WIDTH), reason };
  }

  /**
   * Makes everything written durable and moves the mirror checkpoint to `note` (the log's signed
   * checkpoint of size `next`), cosigned by the mirror. Returns the mirror's signature lines.
   * Throws WitnessError("corrupt") when the entries do not give the checkpoint's root.
   */
  async commit(note: string, signer: CosignatureSigner): Promise<NoteSignature[]> {
    const cp = openCheckpoint(note, this.logKeys);
    if (cp.size !== this.next)
      throw new WitnessError("corrupt", `commit of size ${cp.size} with ${this.next} entries`);
    if (!hashesEqual(this.builder.root(), cp.rootHash))
      throw new WitnessError(
        "corrupt",
        `the ${cp.size} entries held do not give the root of the log's checkpoint`,
      );
    if (this.current && cp.size < this.current.size)
      throw new WitnessError("corrupt", "a commit may not go back");
    await this.writesDone();
    const partials = new WriteOnceFileBatch(this.knownDirs);
    for (const t of this.builder.partialTiles()) partials.add(this.layout.hashTile(t.tile), t.data);
    await partials.commit({ sync: false });
    const files = [...this.unsynced, ...partials.paths];
    this.unsynced = new Set();
    try {
      await syncMany(files);
    } catch (err) {
      for (const f of files) this.unsynced.add(f);
      throw err;
    }
    // A copy of a kubetrail log opens like a log's directory for the read commands (query,
    // history, status): they find its key where a log keeps it.
    if (this.codec.format === "ndjson") await this.keepVerifierKey(cp.signatures);
    // Before the checkpoint that counts the pruned bundles; a crash in between leaves a record
    // over bundles beyond the checkpoint, which the next round fetches (as pruned) again.
    if (this.pendingRetention && this.pendingRetention !== this.retention) {
      await writeRetention(this.layout.retention, this.pendingRetention);
      this.retention = this.pendingRetention;
    }
    // The note's other lines (the log's, witnesses' cosignatures) travel with the copy; the
    // mirror vouches only for its own.
    const { text, signatures } = splitNote(note);
    const cosigned = await signNote(text, [signer], signatures);
    await writeFileAtomic(this.layout.checkpoint, cosigned);
    this.current = { size: cp.size, rootHash: cp.rootHash, note: cosigned };
    await this.applyRemovals(cp.size);
    return splitNote(cosigned).signatures.filter(
      (s) => s.name === signer.name && s.keyHash === signer.keyHash,
    );
  }

  /**
   * Writes keys/verifier.key: the configured key whose signature the commit's checkpoint carries
   * (`signatures`, as openCheckpoint verified them), when it is not the one there.
   */
  private async keepVerifierKey(signatures: readonly NoteSignature[]): Promise<void> {
    const key = this.logKeys.find((k) =>
      signatures.some((s) => s.name === k.name && s.keyHash === k.keyHash),
    )?.key;
    if (key === undefined || key === this.verifierKey) return;
    await writeVerifierKey(this.dir, key);
    this.verifierKey = key;
  }

  /**
   * Applies what the log's records held under the mirror checkpoint of `size` remove
   * (removals.ts): pruned bundles deleted, listed entries tombstoned. Then records how far the
   * records were applied, so that a crash before this is made good on opening.
   */
  private async applyRemovals(size: number): Promise<void> {
    if (this.codec.format !== "ndjson") return;
    const { thin, prune } = this.removals.take(size);
    if (prune !== null && prune.before > (this.retention?.prunedBefore ?? 0)) {
      const from = this.retention?.prunedBefore ?? 0;
      this.retention = this.pendingRetention = { prunedBefore: prune.before, reason: prune.reason };
      await writeRetention(this.layout.retention, this.retention);
      await removeBundleFiles(this.layout, from, prune.before);
    }
    const prunedBefore = this.retention?.prunedBefore ?? 0;
    for (const [bundle, lines] of [...thin].sort((a, b) => a[0] - b[0]))
      if ((bundle + 1) * TILE_WIDTH > prunedBefore)
        await tombstoneLines(this.layout, this.files, bundle, lines);
    // Where entries beyond the bundles full within `size` were noted, they are read again then.
    const applied = this.removals.empty ? size : size - (size % TILE_WIDTH);
    await fsp.writeFile(path.join(this.dir, REMOVALS_FILE), `${applied}\n`);
  }

  /** After a crash between a commit and applying its removals: the records since are read again. */
  private async catchUpRemovals(size: number, onRepair?: (message: string) => void): Promise<void> {
    if (this.codec.format !== "ndjson") return;
    // Derived: a mark that is not a count is read as none.
    const mark = await readCount(path.join(this.dir, REMOVALS_FILE)).catch(() => null);
    const applied = Math.min(mark ?? 0, size);
    if (applied >= size) return;
    // Once for a copy made before copies followed the log's removals: every entry is read.
    if (size - applied > TILE_WIDTH)
      onRepair?.(
        `${this.dir}: reading entries ${applied}–${size - 1} for the log's erasure and retention records`,
      );
    const prunedBefore = this.retention?.prunedBefore ?? 0;
    for (let b = Math.floor(Math.max(applied, prunedBefore) / TILE_WIDTH); b * TILE_WIDTH < size; b++) {
      const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
      const data = await this.readStoredBundle(b, width);
      if (data === null) continue;
      this.codec.decode(data).forEach((e, i) => this.removals.note(e, b * TILE_WIDTH + i));
    }
    await this.applyRemovals(size);
  }

  /** Hash tile `tile` of the mirror's tree (exactly width × 32 bytes), or null beyond its checkpoint. */
  async readTile(tile: Tile): Promise<Uint8Array | null> {
    const covered = (tile.index * TILE_WIDTH + tile.width) * TILE_WIDTH ** tile.level;
    if (covered > (this.current?.size ?? 0)) return null;
    return this.files.readTile(tile);
  }

  /** Hash tile `tile` as written, also beyond the checkpoint (entries being uploaded). */
  async readTileAny(tile: Tile): Promise<Uint8Array | null> {
    // Once the files of what was appended are in place; a failed write is left for commit.
    await Promise.allSettled(this.writes);
    return this.files.readTile(tile);
  }

  /** Why entry bundle `index` is not held, when it is one the log pruned before the copy fetched it; else null. */
  prunedReason(index: number): string | null {
    const r = this.retention;
    return r !== null && (index + 1) * TILE_WIDTH <= r.prunedBefore ? r.reason : null;
  }

  /** The first `width` entries of bundle `index` as stored, or null beyond the checkpoint. */
  async readBundle(index: number, width: number): Promise<Uint8Array | null> {
    if (index * TILE_WIDTH + width > (this.current?.size ?? 0)) return null;
    return this.readStoredBundle(index, width);
  }

  /** The first `width` entries of bundle `index` from whichever of its files holds them. */
  private async readStoredBundle(index: number, width: number): Promise<Uint8Array | null> {
    const compressedFile = this.layout.compressedBundle(index);
    const compressed = await readFileIfExists(compressedFile);
    if (compressed !== null) {
      let bundle: Uint8Array;
      try {
        bundle = decompressBundle(compressed, compressedFile);
      } catch (err) {
        throw new WitnessError("corrupt", (err as Error).message, { cause: err });
      }
      return width === TILE_WIDTH ? bundle : this.codec.prefix(bundle, width);
    }
    const full = await readFileIfExists(this.layout.bundle(index));
    if (full !== null) return width === TILE_WIDTH ? full : this.codec.prefix(full, width);
    for (const w of await this.partialWidths(index)) {
      if (w < width) continue;
      const data = await readFileIfExists(this.layout.partialBundle(index, w));
      if (data !== null) return this.codec.prefix(data, width);
    }
    return null;
  }

  private async partialWidths(index: number): Promise<number[]> {
    const names = await fsp
      .readdir(this.layout.partialDir(this.layout.bundle(index)))
      .catch(() => [] as string[]);
    return names
      .filter((n) => /^[1-9][0-9]*$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Forgets the entries written since the last commit (they did not check out), on disk too. */
  async discardUncommitted(): Promise<void> {
    // Before recovery removes what lies beyond the checkpoint, nothing may still be writing there.
    await this.writesDone().catch(() => undefined);
    this.pendingRetention = this.retention;
    this.builder = new TileBuilder();
    this.openBundle = [];
    this.current = null;
    this.unsynced = new Set();
    await this.recover();
  }

  private async recover(onRepair?: (message: string) => void): Promise<void> {
    this.retention = await readRetention(this.layout.retention);
    this.pendingRetention = this.retention;
    const note = (await readFileIfExists(this.layout.checkpoint))?.toString("utf8");
    if (note === undefined) {
      await this.dropBeyondCheckpoint(onRepair);
      return;
    }
    let cp;
    try {
      cp = openCheckpoint(note, this.logKeys);
    } catch (err) {
      throw new WitnessError("corrupt", `${this.layout.checkpoint}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const leavesOf = async (start: number, end: number): Promise<Hash[]> => {
      const out: Hash[] = [];
      for (let b = Math.floor(start / TILE_WIDTH); b * TILE_WIDTH < end; b++) {
        const width = Math.min(TILE_WIDTH, end - b * TILE_WIDTH);
        const data = await this.readStoredBundle(b, width);
        if (data === null) throw new WitnessError("corrupt", `${this.dir}: entry bundle ${b} is missing`);
        const entries = this.codec.decode(data);
        entries.forEach((e, i) => {
          const index = b * TILE_WIDTH + i;
          if (index >= start && index < end) out.push(hashLeaf(e));
        });
      }
      return out;
    };
    try {
      this.builder = await rightEdgeAt(cp.size, {
        readFullTile: (level, index) => this.files.readTile({ level, index, width: TILE_WIDTH }),
        leafHashes: leavesOf,
      });
    } catch {
      this.builder = new TileBuilder();
    }
    if (this.builder.size !== cp.size || !hashesEqual(this.builder.root(), cp.rootHash)) {
      onRepair?.(`${this.dir}: tiles do not give the checkpoint's root; rebuilding them from the entries`);
      this.builder = new TileBuilder();
      for (let start = 0; start < cp.size; start += 64 * TILE_WIDTH) {
        const batch = new WriteOnceFileBatch();
        for (const leaf of await leavesOf(start, Math.min(cp.size, start + 64 * TILE_WIDTH)))
          for (const t of this.builder.push(leaf)) batch.add(this.layout.hashTile(t.tile), t.data);
        await batch.commit({ sync: true });
      }
      if (!hashesEqual(this.builder.root(), cp.rootHash))
        throw new WitnessError(
          "corrupt",
          `${this.dir}: the entries do not give the root of the mirror checkpoint`,
        );
    }
    const width = partialWidth(cp.size, 0);
    const open = width === 0 ? null : await this.readStoredBundle(Math.floor(cp.size / TILE_WIDTH), width);
    this.openBundle = open === null ? [] : this.codec.decode(open);
    this.current = { size: cp.size, rootHash: cp.rootHash, note };
    await this.dropBeyondCheckpoint(onRepair);
    await this.catchUpRemovals(cp.size, onRepair);
  }

  /** Entries written after the checkpoint were never cosigned: their files go, to be uploaded again. */
  private async dropBeyondCheckpoint(onRepair?: (message: string) => void): Promise<void> {
    const size = this.current?.size ?? 0;
    const firstBeyond = Math.ceil(size / TILE_WIDTH);
    const dir = path.dirname(this.layout.bundle(firstBeyond));
    const removed: string[] = [];
    const partialIndex = Math.floor(size / TILE_WIDTH);
    for (const w of await this.partialWidths(partialIndex)) {
      if (w > size - partialIndex * TILE_WIDTH) removed.push(this.layout.partialBundle(partialIndex, w));
    }
    const exists = (file: string): Promise<boolean> =>
      fsp.stat(file).then(
        () => true,
        () => false,
      );
    for (let b = firstBeyond; ; b++) {
      const files = [this.layout.bundle(b), this.layout.compressedBundle(b)];
      const present = (await Promise.all(files.map(exists))).map((e, i) => (e ? files[i]! : null));
      const partials = await this.partialWidths(b);
      if (present.every((f) => f === null) && partials.length === 0) break;
      for (const f of present) if (f !== null) removed.push(f);
      removed.push(...partials.map((w) => this.layout.partialBundle(b, w)));
    }
    if (removed.length === 0) return;
    await settleEach(removed, (f) => fsp.rm(f, { force: true }));
    onRepair?.(
      `${dir}: dropped ${removed.length} bundle files written after the mirror checkpoint (never cosigned)`,
    );
  }
}

async function syncMany(files: string[]): Promise<void> {
  // syncFiles syncs two at a time; a commit after a long catch-up has thousands of files.
  const groups: string[][] = [];
  for (let i = 0; i < files.length; i += 64) groups.push(files.slice(i, i + 64));
  await settleEach(groups, (g) => syncFiles(g), SYNC_PARALLEL);
}
