// The embedded default log: one data directory on the local filesystem.
//
// Write path: append → group commit → one record in the write-ahead log → fdatasync of that
// one file → resolve. The acknowledged entries are then written to their bundle files in
// log order (bundle-files.ts), which are synced in batches: about every second, when the
// write-ahead log needs room, before a checkpoint names a full bundle, and on close.
// Integration (tiles + a signed checkpoint) runs on a short timer over the leaf hashes of
// entries in the bundle files.
//
// Tiles and partial files are derived from the entries, so they are not synced with each
// checkpoint: full tiles are synced in batches (every few seconds and on close) and the size
// they cover is recorded in `tiles-durable`. That keeps the disk free for the appends.
//
// Recovery on open: the bundle files keep what `entries-durable` says was synced; the
// write-ahead log restores every entry after that (each acknowledged one is there); tiles
// are rebuilt from the right edge at `tiles-durable` by re-hashing the entries after it,
// and checked against the signed checkpoint (from all the entries when that fails); entries
// beyond the checkpoint are integrated.
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  hashesEqual,
  openCheckpoint,
  signCheckpoint,
  type Checkpoint,
  type Hash,
  type HashReader,
} from "../tlog/index.js";
import { checkEntry, joinedSize, joinEntries, splitBundle } from "./bundle-format.js";
import { CommitBuffers } from "./commit-buffers.js";
import { BundleFiles } from "./bundle-files.js";
import { readCount, syncFiles, writeFileAtomic, WriteOnceFileBatch } from "./durable-file.js";
import { DEFAULT_WAL_OPTIONS, WriteAheadLog } from "./write-ahead-log.js";
import { BUNDLE_SIZE, FsLayout } from "./fs-layout.js";
import { FsLogReader } from "./fs-reader.js";
import { DEFAULT_GROUP_COMMIT_LIMITS, GroupCommitter, type GroupCommitLimits } from "./group-commit.js";
import { loadOrCreateSigningKey, type LogKeys } from "./keys.js";
import { LeafHasherPool } from "./leaf-hasher.js";
import { rightEdgeAt } from "./right-edge.js";
import { acquireLock, type DirLock } from "./lock.js";
import { partialWidth, splitTileData, TileBuilder, type TileData } from "./tile-builder.js";
import { LogError, toLogError, type AuditLog, type LogEntry, type SignedCheckpoint } from "./types.js";

/**
 * The cosigning step of publishing: given the note the log signed, resolves to the note to
 * write (with witnesses' cosignatures attached). A failure does not stop the checkpoint: it is
 * written with the log's signature alone and the error told.
 */
export type Cosign = (signed: string, checkpoint: Checkpoint) => Promise<string>;

export interface FsLogOptions {
  /** Origin line for a new log (ignored, but checked, for an existing one). */
  origin?: string;
  /** How often durable entries are folded into tiles and a new checkpoint (ms). */
  integrateIntervalMs?: number;
  limits?: Partial<GroupCommitLimits>;
  /** Told about repairs made while opening (unsynced bundle bytes cut, entries restored, tiles rebuilt). */
  onRepair?: (message: string) => void;
  /** Told when a background integration fails (it is retried at the next interval). */
  onError?: (err: unknown) => void;
  /** Collects cosignatures for each checkpoint before it is written (none by default). */
  cosign?: Cosign;
}

const TILE_WIDTH = BUNDLE_SIZE;
/** Bundle files are synced at most this long after their entries were acknowledged (and on close). */
const BUNDLE_SYNC_INTERVAL_MS = 1_000;
/** Entries integrated per round: bounds the bytes held while hashing (128 bundles). */
const INTEGRATE_SLICE = 128 * BUNDLE_SIZE;
/**
 * Leaf hashes kept from commits for the integrator (32 MB). Beyond that (integration
 * failing for a long time) they are dropped and re-computed from the bundles on disk.
 */
const MAX_PENDING_LEAVES = 1 << 20;
/** Full tiles are synced at most this long after they were written (and on close)... */
const TILE_SYNC_INTERVAL_MS = 5_000;
/** ...or once this many wait, which bounds the list and the entries recovery re-hashes. */
const TILE_SYNC_MAX_FILES = 2_048;

/** Opens (creating if needed) the log in dataDir for writing; one writer per directory. */
export async function openFsLog(dataDir: string, opts: FsLogOptions = {}): Promise<AuditLog & FsLogExtras> {
  await fsp.mkdir(dataDir, { recursive: true });
  const lock = await acquireLock(path.resolve(new FsLayout(dataDir).lockFile));
  let log: FsLog | null = null;
  try {
    const keys = await loadOrCreateSigningKey(dataDir, opts.origin);
    log = new FsLog(dataDir, keys, lock, opts);
    await log.recover();
    return log;
  } catch (err) {
    await (log ? log.release() : lock.release());
    throw err;
  }
}

/** What the fs driver offers beyond AuditLog, for serving the static log and metrics. */
export interface FsLogExtras {
  readonly reader: FsLogReader;
  readonly verifierKey: string;
  /** Bytes accepted by append but not yet durable. */
  backlogBytes(): number;
}

class FsLog implements AuditLog, FsLogExtras {
  readonly reader: FsLogReader;
  private readonly layout: FsLayout;
  private readonly committer: GroupCommitter;
  private readonly intervalMs: number;
  /** Acknowledged entries: their write-ahead records are synced. */
  private durable = 0;
  /** Leaf hashing runs on worker threads: of each commit's bytes, and of bundles in recovery. */
  private readonly hasher = new LeafHasherPool(Math.max(1, os.availableParallelism() - 1));
  private builder = new TileBuilder();
  /**
   * Leaf hashes of entries not yet integrated, computed when they were written to the bundle
   * files: pending[i] is entry pendingStart + i. Integration takes them from here instead of
   * re-reading and re-hashing the bundles.
   */
  private pending: Hash[] = [];
  private pendingStart = 0;
  /** Entries before this index have been handed to hashWritten. */
  private hashRequested = 0;
  private readonly buffers = new CommitBuffers();
  /** Leaf hashes the appender gave, by the first index of their commit, until it is written. */
  private readonly givenLeaves = new Map<number, readonly Hash[]>();
  /** Settles once the leaf hashes of everything written to the bundle files are in `pending`. */
  private hashed: Promise<void> = Promise.resolve();
  /** Full tiles written since the last tile sync. */
  private unsyncedTiles: string[] = [];
  private lastTileSync = Date.now();
  /** Opened by recover(). */
  private wal: WriteAheadLog | undefined;
  private readonly bundles: BundleFiles;
  private lastBundleSync = Date.now();
  /** The partial files the current checkpoint names, removed once superseded. */
  private partials: string[] = [];
  private checkpoint!: SignedCheckpoint;
  private timer: NodeJS.Timeout | null = null;
  private integrating: Promise<void> | null = null;
  private readonly listeners = new Set<(cp: SignedCheckpoint) => void>();
  private waiters: { size: number; resolve: (cp: SignedCheckpoint) => void }[] = [];
  private closed = false;

  constructor(
    dataDir: string,
    private readonly keys: LogKeys,
    private readonly lock: DirLock,
    private readonly opts: FsLogOptions,
  ) {
    this.layout = new FsLayout(dataDir);
    this.reader = new FsLogReader(dataDir);
    this.intervalMs = opts.integrateIntervalMs ?? 500;
    this.bundles = new BundleFiles(this.layout, (first, count, joined) =>
      this.hashWritten(first, count, joined),
    );
    this.committer = new GroupCommitter((entries, leafHashes) => this.commit(entries, leafHashes), {
      ...DEFAULT_GROUP_COMMIT_LIMITS,
      ...opts.limits,
    });
  }

  get origin(): string {
    return this.keys.origin;
  }
  get verifierKey(): string {
    return this.keys.verifierKey;
  }

  size(): number {
    return this.durable;
  }
  latestCheckpoint(): SignedCheckpoint {
    return this.checkpoint;
  }
  backlogBytes(): number {
    return this.committer.backlogBytes;
  }

  append(entries: Uint8Array[], leafHashes?: readonly Uint8Array[]): Promise<{ firstIndex: number }> {
    const refused = this.bundles.error;
    if (refused) return Promise.reject(refused);
    if (entries.length === 0) return Promise.resolve({ firstIndex: this.durable });
    if (leafHashes !== undefined && leafHashes.length !== entries.length) {
      return Promise.reject(
        new LogError("invalid", `${leafHashes.length} leaf hashes given for ${entries.length} entries`),
      );
    }
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const problem = checkEntry(entries[i]!);
      if (problem) return Promise.reject(new LogError("invalid", `entry ${i} of the batch: ${problem}`));
      if (leafHashes !== undefined && leafHashes[i]!.length !== 32) {
        return Promise.reject(new LogError("invalid", `leaf hash ${i} of the batch is not 32 bytes`));
      }
      bytes += entries[i]!.length + 1;
    }
    return this.committer.submit(entries, bytes, leafHashes);
  }

  readEntries(start: number, end: number): AsyncIterable<LogEntry> {
    if (start < 0 || end > this.durable || start > end) {
      throw new LogError("invalid", `entries [${start}, ${end}) are outside the log of ${this.durable}`);
    }
    return this.readWritten(start, end);
  }

  /** Acknowledged entries are in the bundle files moments later: reads wait for them. */
  private async *readWritten(start: number, end: number): AsyncIterable<LogEntry> {
    await this.bundles.untilWritten(end);
    yield* this.reader.readEntries(start, end);
  }

  hashReader(): HashReader {
    return this.reader.hashReader(this.checkpoint.size);
  }

  waitIntegrated(size: number): Promise<SignedCheckpoint> {
    if (this.checkpoint.size >= size) return Promise.resolve(this.checkpoint);
    if (size > this.durable) {
      return Promise.reject(
        new LogError("invalid", `size ${size} is beyond the ${this.durable} durable entries`),
      );
    }
    // Integrate now rather than at the next tick: the timer is unref'd, and a caller
    // waiting for coverage (a CLI about to exit) should not wait for it.
    const waiting = new Promise<SignedCheckpoint>((resolve) => this.waiters.push({ size, resolve }));
    this.integrate().catch((err: unknown) => this.opts.onError?.(err));
    return waiting;
  }

  onIntegrated(listener: (cp: SignedCheckpoint) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.committer.close();
    if (this.timer) clearInterval(this.timer);
    try {
      await this.integrating;
      // Entries the bundle files cannot take now stay in the write-ahead log for recovery.
      await this.bundles.untilWritten(this.durable);
      await this.integrate();
      await this.syncTiles();
      await this.syncBundles();
    } finally {
      // Even when the last sync fails (recovery redoes it), nothing stays open or locked.
      await this.release();
    }
  }

  /** Closes every file and worker and unlocks the directory (also after a failed open). */
  async release(): Promise<void> {
    await this.bundles.close();
    await this.hasher.close();
    await this.wal?.close();
    this.wal = undefined;
    await this.lock.release();
  }

  // ---- write path ----

  /**
   * Makes `entries` durable at the end of the log: they are acknowledged once their
   * write-ahead record is synced, then queued for the bundle files. A failed write leaves
   * nothing to undo: the next commit writes the same indexes again, and recovery takes the
   * later record (see replaySteps).
   */
  private async commit(
    entries: readonly Uint8Array[],
    leafHashes: readonly Hash[] | undefined,
  ): Promise<number> {
    const refused = this.bundles.error;
    if (refused) throw refused;
    await this.bundles.room();
    const wal = this.writeAhead();
    const first = this.durable;
    // One copy of the commit's bytes: the write-ahead record, then the bundle files, then
    // the worker computing their leaf hashes all take it (see hashWritten).
    const joined = joinEntries(entries, this.buffers.take(joinedSize(entries)));
    try {
      await wal.sync(await wal.write(first, entries, joined));
    } catch (err) {
      this.buffers.give(joined.buffer as ArrayBuffer);
      throw toLogError(err);
    }
    this.durable += entries.length;
    if (leafHashes !== undefined) this.givenLeaves.set(first, leafHashes);
    this.bundles.enqueue(first, entries, joined);
    return first;
  }

  private writeAhead(): WriteAheadLog {
    if (!this.wal) throw new LogError("closed", "the log is closed");
    return this.wal;
  }

  /**
   * Keeps the leaf hashes of entries just written to the bundle files for integration: those
   * the appender gave, else hashed by a worker, which is lent the commit's buffer and hands
   * it back for another commit. Either way they join `pending` in log order.
   */
  private hashWritten(first: number, count: number, joined: Uint8Array): void {
    this.hashRequested = first + count;
    const given = this.givenLeaves.get(first);
    if (given !== undefined) {
      this.givenLeaves.delete(first);
      this.buffers.give(joined.buffer as ArrayBuffer);
      this.hashed = this.hashed.then(() => this.keepPending(first, given));
      return;
    }
    const leaves = this.hasher.hashLent(joined).then(({ hashes, memory }) => {
      this.buffers.give(memory);
      return hashes;
    });
    this.hashed = this.hashed.then(async () => {
      // A shortcut only: without these hashes integration hashes the entries from disk.
      const hashes = await leaves.catch(() => null);
      if (hashes !== null) this.keepPending(first, splitTileData(hashes));
    });
  }

  /**
   * Syncs the bundle files (see BundleFiles.sync); the write-ahead log may then reuse its
   * records of the entries they hold.
   */
  private async syncBundles(): Promise<void> {
    this.lastBundleSync = Date.now();
    this.writeAhead().release(await this.bundles.sync());
  }

  // ---- integration ----

  private startTimer(): void {
    this.timer = setInterval(() => {
      this.integrate().catch((err: unknown) => this.opts.onError?.(err));
      if (Date.now() - this.lastBundleSync >= BUNDLE_SYNC_INTERVAL_MS) {
        this.syncBundles().catch((err: unknown) => this.opts.onError?.(err));
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Folds pending leaf hashes into tiles and signs a checkpoint covering them. */
  private integrate(): Promise<void> {
    if (this.integrating) return this.integrating;
    const from = this.builder.size;
    this.integrating = this.integrateOnce().finally(() => {
      this.integrating = null;
      // Someone waits for entries that became durable during this round: go again now
      // (unless this round got nowhere: then the timer retries).
      if (this.waiters.length > 0 && this.builder.size < this.durable && this.builder.size > from) {
        this.integrate().catch((err: unknown) => this.opts.onError?.(err));
      }
    });
    return this.integrating;
  }

  /** Integrates every acknowledged entry, a bounded slice at a time so memory stays flat. */
  private async integrateOnce(): Promise<void> {
    // What the bundle files cannot take now (a full disk) waits for a later round.
    await this.bundles.untilWritten(this.durable).catch(() => undefined);
    await this.hashed;
    while (this.builder.size < this.bundles.size) {
      const start = this.builder.size;
      const end = Math.min(this.bundles.size, start + INTEGRATE_SLICE);
      const leaves = await this.leavesFor(start, end);
      const before = this.builder.clone();
      const completed = await this.fold(leaves);
      try {
        // The checkpoint names its full bundles by their final paths: put them there first
        // (one sync covers every entry written before it is called).
        if (this.bundles.syncedSize < this.builder.size - (this.builder.size % TILE_WIDTH))
          await this.syncBundles();
        await this.publish(completed);
        this.dropPendingBefore(this.builder.size);
      } catch (err) {
        // Retry from the same place next time, so no completed tile is skipped.
        this.builder = before;
        throw err;
      }
    }
    const due = Date.now() - this.lastTileSync >= TILE_SYNC_INTERVAL_MS;
    if (due || this.unsyncedTiles.length >= TILE_SYNC_MAX_FILES) await this.syncTiles();
  }

  /**
   * Makes the full tiles written so far durable, then records that the latest checkpoint's
   * tree has all its full tiles on disk. Until then a power loss can lose them; recovery
   * rewrites them from the entries. (Runs between publishes, so every tile of that tree has
   * been written; after a publish that failed half-way the mark is merely conservative.)
   */
  private async syncTiles(): Promise<void> {
    this.lastTileSync = Date.now();
    const files = this.unsyncedTiles;
    const size = this.checkpoint.size;
    if (files.length === 0) return;
    this.unsyncedTiles = [];
    try {
      await syncFiles(files);
      await writeFileAtomic(this.layout.tilesDurable, `${size}\n`);
    } catch (err) {
      this.unsyncedTiles = [...files, ...this.unsyncedTiles];
      throw err;
    }
  }

  /**
   * Pushes the next leaves into the tiles, the roots of the level-0 tiles they fill hashed on
   * a worker: one node hash per leaf, which held the event loop for up to 90 ms per round.
   */
  private async fold(leaves: Hash[]): Promise<TileData[]> {
    const roots = await this.hasher.tileRoots(this.builder.fillingTiles(leaves));
    return this.builder.pushAll(leaves, roots);
  }

  /** Keeps the leaf hashes of a commit at `first` for integration, while they are contiguous. */
  private keepPending(first: number, leaves: readonly Hash[]): void {
    if (this.pendingStart + this.pending.length === first && this.pending.length < MAX_PENDING_LEAVES) {
      for (const leaf of leaves) this.pending.push(leaf);
    } else {
      // Not contiguous (nothing kept since recovery) or too many: integration hashes the
      // entries before first + leaves.length from disk and continues from here.
      this.pending = [...leaves];
      this.pendingStart = first;
    }
  }

  /**
   * Leaf hashes of a prefix of [start, end): kept from the commits, else hashed from the
   * bundles. Only entries whose hashes will never arrive (after recovery, or beyond
   * MAX_PENDING_LEAVES) are read back from disk.
   */
  private async leavesFor(start: number, end: number): Promise<Hash[]> {
    this.dropPendingBefore(start);
    // Written since integration began: their hashes are still on their way from the worker.
    if (start >= this.pendingStart + this.pending.length && start < this.hashRequested) {
      await this.hashed;
      this.dropPendingBefore(start);
    }
    const kept = this.pendingStart === start ? Math.min(this.pending.length, end - start) : 0;
    if (kept > 0) return this.pending.slice(0, kept);
    return this.hashRange(start, this.pendingStart > start ? Math.min(end, this.pendingStart) : end);
  }

  private dropPendingBefore(size: number): void {
    const n = Math.max(0, Math.min(this.pending.length, size - this.pendingStart));
    if (n === 0) return;
    this.pending = this.pending.slice(n);
    this.pendingStart += n;
  }

  /**
   * Writes new tiles, the partial entry bundle and a new checkpoint for builder.size. Only
   * the checkpoint is synced: the entries it covers are durable, and everything else here
   * can be rebuilt from them (see syncTiles).
   */
  private async publish(completed: TileData[]): Promise<void> {
    const size = this.builder.size;
    const batch = new WriteOnceFileBatch();
    for (const t of completed) batch.add(this.layout.hashTile(t.tile), t.data);
    const full = batch.paths;
    await this.addPartials(batch);
    await batch.commit({ sync: false });
    this.unsyncedTiles.push(...full);
    const rootHash = this.builder.root();
    const checkpoint: Checkpoint = { origin: this.origin, size, rootHash, extensions: [] };
    const note = await this.cosigned(await signCheckpoint(checkpoint, this.keys.signer), checkpoint);
    await writeFileAtomic(this.layout.checkpoint, note);
    this.checkpoint = { origin: this.origin, size, rootHash, note };
    // Before telling anyone: whoever waits for this checkpoint then finds the directory
    // exactly as it describes (readers holding an older one fall back to wider files). A
    // partial left behind is harmless, so failing to remove one does not fail the checkpoint.
    await this.removeSupersededPartials().catch((err: unknown) => this.opts.onError?.(err));
    this.notify();
  }

  /** The note with the cosignatures collected for it; the log's signature alone if that fails. */
  private async cosigned(signed: string, checkpoint: Checkpoint): Promise<string> {
    if (!this.opts.cosign) return signed;
    try {
      return await this.opts.cosign(signed, checkpoint);
    } catch (err) {
      this.opts.onError?.(err);
      return signed;
    }
  }

  /** Adds the partial tiles and the partial entry bundle of the tree at builder.size. */
  private async addPartials(batch: WriteOnceFileBatch): Promise<void> {
    for (const t of this.builder.partialTiles()) batch.add(this.layout.hashTile(t.tile), t.data);
    const bundle = this.partialBundle();
    if (bundle) {
      const prefix = await this.reader.readEntryBundle(bundle.index, bundle.width);
      if (prefix === null) throw new LogError("corrupt", `open bundle ${bundle.index} lost entries`);
      batch.add(bundle.file, prefix);
    }
  }

  /** The partial tiles and partial bundle that belong to the current tree (builder.size). */
  private currentPartials(): string[] {
    const bundle = this.partialBundle();
    return [
      ...this.builder.partialTiles().map((t) => this.layout.hashTile(t.tile)),
      ...(bundle ? [bundle.file] : []),
    ];
  }

  /** The partial entry bundle of the tree at builder.size, if its last bundle is not full. */
  private partialBundle(): { index: number; width: number; file: string } | null {
    const width = this.builder.size % TILE_WIDTH;
    if (width === 0) return null;
    const index = Math.floor(this.builder.size / TILE_WIDTH);
    return { index, width, file: this.layout.partialBundle(index, width) };
  }

  /**
   * Removes the partial files of the previous checkpoint that the new one no longer names:
   * a wider partial or the full file now holds the same prefix (readers fall back to it).
   */
  private async removeSupersededPartials(): Promise<void> {
    const keep = new Set(this.currentPartials());
    const old = this.partials.filter((f) => !keep.has(f));
    this.partials = [...keep];
    await Promise.all(old.map((f) => fsp.rm(f, { force: true })));
    // A `.p` directory whose tile or bundle became full is left empty.
    const keptDirs = new Set([...keep].map((f) => path.dirname(f)));
    const emptied = new Set(old.map((f) => path.dirname(f)).filter((d) => !keptDirs.has(d)));
    await Promise.all([...emptied].map((d) => fsp.rmdir(d).catch(() => undefined)));
  }

  private notify(): void {
    const cp = this.checkpoint;
    const ready = this.waiters.filter((w) => w.size <= cp.size);
    this.waiters = this.waiters.filter((w) => w.size > cp.size);
    for (const w of ready) w.resolve(cp);
    for (const l of this.listeners) {
      try {
        l(cp);
      } catch {
        // A consumer's bug must not stop integration; consumers report their own errors.
      }
    }
  }

  // ---- recovery ----

  /** Brings the directory to a consistent state; see the comment at the top of the file. */
  async recover(): Promise<void> {
    const trusted = await this.readOwnCheckpoint();
    await this.bundles.recover(trusted?.size ?? 0, !trusted, this.opts.onRepair);
    this.wal = await WriteAheadLog.open(this.layout.walDir, {
      ...DEFAULT_WAL_OPTIONS,
      // Frees every slot: the bundle writer may still hold acknowledged entries in its queue.
      makeRoom: async () => {
        await this.bundles.untilWritten(this.durable);
        await this.syncBundles();
      },
      onError: this.opts.onError,
    });
    await this.replayWriteAhead(this.wal);
    this.durable = this.bundles.size;
    if (trusted && this.durable < trusted.size) {
      throw new LogError(
        "corrupt",
        `the log holds ${this.durable} entries but its checkpoint covers ${trusted.size}: entries are missing`,
      );
    }
    await this.syncBundles();
    await this.wal.forgetBeyond(this.durable);
    await this.recoverTiles(trusted);
    this.partials = this.currentPartials();
    if (trusted) this.checkpoint = trusted;
    if (!trusted || this.builder.size < this.durable) {
      if (!trusted) {
        // From here a missing mark can only mean a log older than the mark (see recoverTiles).
        await writeFileAtomic(this.layout.tilesDurable, "0\n");
        await this.publish([]);
      }
      await this.integrateOnce();
    }
    this.startTimer();
  }

  /** Writes to the bundle files what the write-ahead log holds beyond them. */
  private async replayWriteAhead(wal: WriteAheadLog): Promise<void> {
    let restored = 0;
    for await (const record of wal.replay(this.bundles.size)) {
      await this.bundles.write(record.first, splitBundle(record.bytes), record.bytes);
      restored += record.count;
    }
    if (restored > 0) this.opts.onRepair?.(`restored ${restored} entries from the write-ahead log`);
  }

  private async readOwnCheckpoint(): Promise<SignedCheckpoint | null> {
    const note = await this.reader.readCheckpointNote();
    if (note === null) return null;
    try {
      const cp = openCheckpoint(note, this.keys.verifier);
      return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note };
    } catch (err) {
      throw new LogError("corrupt", `${this.layout.checkpoint}: ${(err as Error).message}`);
    }
  }

  /**
   * Brings the tiles to the trusted checkpoint. After a clean close its partial tiles give
   * the signed root directly. Otherwise the builder resumes from the right edge at the size
   * whose full tiles were synced, re-hashing only the entries after it and rewriting their
   * tiles; if even that does not give the signed root, every tile is rebuilt from the entries.
   */
  private async recoverTiles(trusted: SignedCheckpoint | null): Promise<void> {
    if (!trusted) return;
    // A log written before the mark existed synced every tile with its checkpoint.
    const durable = Math.min(trusted.size, (await this.readTilesDurable()) ?? trusted.size);
    if (durable === trusted.size && (await this.loadPartialTiles(trusted))) return;
    try {
      this.builder = await rightEdgeAt(durable, {
        readFullTile: (level, index) => this.reader.readHashTile({ level, index, width: TILE_WIDTH }),
        leafHashes: (start, end) => this.hashRange(start, end),
      });
      await this.rebuildTilesTo(trusted.size);
    } catch (err) {
      if (!(err instanceof LogError && err.code === "corrupt")) throw err;
    }
    if (this.builder.size !== trusted.size || !hashesEqual(this.builder.root(), trusted.rootHash)) {
      this.opts.onRepair?.(
        `tiles do not match the checkpoint of size ${trusted.size}; rebuilding them from the entries`,
      );
      this.builder = new TileBuilder();
      await this.rebuildTilesTo(trusted.size);
      if (!hashesEqual(this.builder.root(), trusted.rootHash)) {
        throw new LogError(
          "corrupt",
          `the entries do not match the signed checkpoint of size ${trusted.size}`,
        );
      }
    }
    const partials = new WriteOnceFileBatch();
    await this.addPartials(partials);
    await partials.commit({ sync: false });
    await writeFileAtomic(this.layout.tilesDurable, `${trusted.size}\n`);
  }

  /** The builder from the checkpoint's partial tiles, if they are all there and give its root. */
  private async loadPartialTiles(trusted: SignedCheckpoint): Promise<boolean> {
    const rows: Hash[][] = [];
    for (let level = 0; TILE_WIDTH ** level <= trusted.size; level++) {
      const width = partialWidth(trusted.size, level);
      if (width === 0) {
        rows.push([]);
        continue;
      }
      const tile = { level, index: Math.floor(trusted.size / TILE_WIDTH ** (level + 1)), width };
      const data = await this.reader.readHashTile(tile);
      if (data === null) return false;
      rows.push(splitTileData(data));
    }
    const builder = new TileBuilder(trusted.size, rows);
    if (!hashesEqual(builder.root(), trusted.rootHash)) return false;
    this.builder = builder;
    return true;
  }

  /** The tree size whose full tiles are synced; null when there is no mark at all. */
  private readTilesDurable(): Promise<number | null> {
    // Unreadable, it only costs a longer rebuild.
    return readCount(this.layout.tilesDurable).catch(() => 0);
  }

  /** Pushes entries [builder.size, size) from disk, writing and syncing the tiles they complete. */
  private async rebuildTilesTo(size: number): Promise<void> {
    while (this.builder.size < size) {
      const start = this.builder.size;
      const batch = new WriteOnceFileBatch();
      const leaves = await this.hashRange(start, Math.min(size, start + INTEGRATE_SLICE));
      for (const t of await this.fold(leaves)) batch.add(this.layout.hashTile(t.tile), t.data);
      await batch.commit({ sync: true });
    }
  }

  /** Leaf hashes of entries [start, end), re-read from their bundles and hashed off-thread. */
  private async hashRange(start: number, end: number): Promise<Hash[]> {
    const bundles: Promise<Uint8Array>[] = [];
    for (let b = Math.floor(start / TILE_WIDTH); b * TILE_WIDTH < end; b++) {
      const width = Math.min(TILE_WIDTH, end - b * TILE_WIDTH);
      bundles.push(
        this.reader.readEntryBundle(b, width).then((data) => {
          if (data === null) throw new LogError("corrupt", `entry bundle ${b} is missing`);
          return this.hasher.hashGiven(data).then((r) => r.hashes);
        }),
      );
    }
    const out: Hash[] = [];
    let index = Math.floor(start / TILE_WIDTH) * TILE_WIDTH;
    for (const hashes of await Promise.all(bundles)) {
      for (let i = 0; i < hashes.length; i += 32, index++) {
        if (index >= start && index < end) out.push(hashes.subarray(i, i + 32));
      }
    }
    if (out.length !== end - start) {
      throw new LogError("corrupt", `entries ${start}–${end - 1}: found ${out.length} on disk`);
    }
    return out;
  }
}
