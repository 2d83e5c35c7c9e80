// The embedded default log: one data directory on the local filesystem.
//
// Write path: append → group commit → lines appended to the open bundle → fdatasync →
// resolve. A bundle that reaches 256 entries is synced and renamed into its tlog-tiles
// path, so full bundles are immutable and complete. Integration (tiles + a signed
// checkpoint) runs on a short timer over the leaf hashes of durable entries only.
//
// Tiles and partial files are derived from the entries, so they are not synced with each
// checkpoint: full tiles are synced in batches (every few seconds and on close) and the size
// they cover is recorded in `tiles-durable`. That keeps the disk free for the appends.
//
// Recovery on open: full bundles are trusted as written (they were synced before the
// rename); the open bundle is cut back to its last complete JSON line (a torn tail was
// never acknowledged); tiles are rebuilt from the right edge at `tiles-durable` by
// re-hashing the entries after it, and checked against the signed checkpoint (from all the
// entries when that fails); durable entries beyond the checkpoint are integrated.
import { promises as fsp } from "node:fs";
import os from "node:os";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { hashesEqual, openCheckpoint, signCheckpoint, type Hash, type HashReader } from "../tlog/index.js";
import { checkEntry, joinEntries, splitBundle } from "./bundle-format.js";
import {
  fdatasync,
  fsyncDir,
  readFileIfExists,
  settleAll,
  writevAll,
  syncFiles,
  writeFileAtomic,
  WriteOnceFileBatch,
} from "./durable-file.js";
import { BUNDLE_SIZE, FsLayout } from "./fs-layout.js";
import { FsLogReader } from "./fs-reader.js";
import { DEFAULT_GROUP_COMMIT_LIMITS, GroupCommitter, type GroupCommitLimits } from "./group-commit.js";
import { loadOrCreateSigningKey, type LogKeys } from "./keys.js";
import { LeafHasherPool } from "./leaf-hasher.js";
import { rightEdgeAt } from "./right-edge.js";
import { acquireLock, type DirLock } from "./lock.js";
import { partialWidth, splitTileData, TileBuilder, type TileData } from "./tile-builder.js";
import { LogError, type AuditLog, type LogEntry, type SignedCheckpoint } from "./types.js";
import { isRecord } from "../json/record.js";

export interface FsLogOptions {
  /** Origin line for a new log (ignored, but checked, for an existing one). */
  origin?: string;
  /** How often durable entries are folded into tiles and a new checkpoint (ms). */
  integrateIntervalMs?: number;
  limits?: Partial<GroupCommitLimits>;
  /** Told about repairs made while opening (torn tail cut, tiles rebuilt). */
  onRepair?: (message: string) => void;
  /** Told when a background integration fails (it is retried at the next interval). */
  onError?: (err: unknown) => void;
}

interface OpenBundle {
  index: number;
  /** Raw descriptor: the write phase is synchronous (page-cache copies), syncs are not. */
  fd: number;
  /** Entries in the file that are durable. */
  count: number;
  /** Bytes of those entries; anything after this offset was never acknowledged. */
  size: number;
}

const TILE_WIDTH = BUNDLE_SIZE;
/** Empty bundle files kept ready ahead of the writer (~7 MB of entries at 1.7 KB each). */
const SPARE_BUNDLES = 16;
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
  try {
    const keys = await loadOrCreateSigningKey(dataDir, opts.origin);
    const log = new FsLog(dataDir, keys, lock, opts);
    await log.recover();
    return log;
  } catch (err) {
    await lock.release();
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
  private durable = 0;
  private open: OpenBundle | null = null;
  /** Leaf hashing runs on worker threads: of each commit's bytes, and of bundles in recovery. */
  private readonly hasher = new LeafHasherPool(Math.max(1, os.availableParallelism() - 1));
  private builder = new TileBuilder();
  /**
   * Leaf hashes of durable entries not yet integrated, computed when they were committed:
   * pending[i] is entry pendingStart + i. Integration takes them from here instead of
   * re-reading and re-hashing the bundles.
   */
  private pending: Hash[] = [];
  private pendingStart = 0;
  /** Full tiles written since the last tile sync. */
  private unsyncedTiles: string[] = [];
  private lastTileSync = Date.now();
  /** Full bundles being renamed from `.open` to their final paths, in order. */
  private moving: Promise<void> = Promise.resolve();
  /** The partial files the current checkpoint names, removed once superseded. */
  private partials: string[] = [];
  private checkpoint!: SignedCheckpoint;
  private timer: NodeJS.Timeout | null = null;
  private integrating: Promise<void> | null = null;
  private broken: LogError | null = null;
  private readonly listeners = new Set<(cp: SignedCheckpoint) => void>();
  private waiters: { size: number; resolve: (cp: SignedCheckpoint) => void }[] = [];
  private closed = false;
  private readonly knownDirs = new Set<string>();
  /** Empty bundle files prepared ahead of the writer, by bundle index. */
  private readonly spares = new Map<number, Promise<number>>();
  /** The lowest bundle index for which no file was created or prepared yet. */
  private nextFresh = 0;

  constructor(
    dataDir: string,
    private readonly keys: LogKeys,
    private readonly lock: DirLock,
    private readonly opts: FsLogOptions,
  ) {
    this.layout = new FsLayout(dataDir);
    this.reader = new FsLogReader(dataDir);
    this.intervalMs = opts.integrateIntervalMs ?? 500;
    this.committer = new GroupCommitter((entries) => this.commit(entries), {
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

  append(entries: Uint8Array[]): Promise<{ firstIndex: number }> {
    if (this.broken) return Promise.reject(this.broken);
    if (entries.length === 0) return Promise.resolve({ firstIndex: this.durable });
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const problem = checkEntry(entries[i]!);
      if (problem) return Promise.reject(new LogError("invalid", `entry ${i} of the batch: ${problem}`));
      bytes += entries[i]!.length + 1;
    }
    return this.committer.submit(entries, bytes);
  }

  readEntries(start: number, end: number): AsyncIterable<LogEntry> {
    if (start < 0 || end > this.durable || start > end) {
      throw new LogError("invalid", `entries [${start}, ${end}) are outside the log of ${this.durable}`);
    }
    return this.reader.readEntries(start, end);
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
    await this.moving;
    if (this.timer) clearInterval(this.timer);
    try {
      await this.integrating;
      if (!this.broken) {
        await this.integrate();
        await this.syncTiles();
      }
    } finally {
      // Even when the last integration fails (recovery redoes it), nothing stays open or locked.
      await this.hasher.close();
      for (const spare of this.spares.values()) {
        const fd = await spare.catch(() => null);
        if (fd !== null) fs.closeSync(fd);
      }
      this.spares.clear();
      if (this.open) fs.closeSync(this.open.fd);
      this.open = null;
      await this.lock.release();
    }
  }

  // ---- write path ----

  /**
   * Makes `entries` durable at the end of the log, or throws having rolled the files back
   * to what was durable before. All bundle files of the commit are synced together; full
   * ones are renamed into place only after that, so a full bundle is always complete.
   */
  private async commit(entries: Uint8Array[]): Promise<number> {
    if (this.broken) throw this.broken;
    const first = this.durable;
    const before = this.open ? { count: this.open.count, size: this.open.size } : null;
    const files: OpenBundle[] = [];
    const dirs = new Set<string>();
    // One copy of the commit's bytes: each bundle file gets one write of a slice of it (cheaper
    // than a vectored write of two buffers per entry). Once written, the bytes are handed to
    // a worker, which computes their leaf hashes while the files are synced.
    const joined = joinEntries(entries);
    try {
      const writes: Promise<void>[] = [];
      for (let i = 0, offset = 0, next = first; i < entries.length;) {
        const open = this.open ?? (await this.createBundle(next / TILE_WIDTH, dirs));
        this.open = open;
        files.push(open);
        const count = Math.min(entries.length - i, TILE_WIDTH - open.count);
        let bytes = 0;
        for (let k = i; k < i + count; k++) bytes += entries[k]!.length + 1;
        const write = writevAll(open.fd, [joined.subarray(offset, offset + bytes)]);
        // Observed by settleAll below; until then (creating the next file) a failure must
        // not count as an unhandled rejection.
        write.catch(() => undefined);
        writes.push(write);
        open.count += count;
        open.size += bytes;
        if (open.count === TILE_WIDTH) this.open = null;
        i += count;
        offset += bytes;
        next += count;
      }
      await settleAll(writes);
      const leaves = this.hasher.hash(joined, { handOver: true });
      leaves.catch(() => undefined); // observed below, after the syncs
      await settleAll(files.map((f) => fdatasync(f.fd)));
      // The kept hashes are a shortcut: without them integration hashes these entries from
      // disk, so a failed worker must not fail entries that are already durable.
      const hashes = await leaves.catch(() => null);
      if (hashes !== null) this.keepPending(first, splitTileData(hashes));
    } catch (err) {
      await this.rollback(before, files);
      throw toLogError(err);
    }
    // The entries are on disk. Moving full bundles to their final paths happens beside the
    // next commits: readers look under both names, and a rename lost in a crash leaves a full
    // `.open` bundle that recovery renames again. Only directories holding newly created
    // files need a sync before the acknowledgement.
    const full = files.filter((f) => f.count === TILE_WIDTH);
    if (full.length > 0) this.moving = this.moving.then(() => this.moveIntoPlace(full));
    try {
      await Promise.all([...dirs].map((dir) => fsyncDir(dir)));
    } catch (err) {
      this.broken = new LogError(
        "io",
        `cannot sync new bundle directories: ${(err as Error).message}; restart`,
      );
      throw this.broken;
    }
    this.durable += entries.length;
    this.prepareSpares();
    return first;
  }

  private async moveIntoPlace(full: OpenBundle[]): Promise<void> {
    try {
      for (const f of full) {
        await closeAsync(f.fd);
        await fsp.rename(this.layout.openBundle(f.index), this.layout.bundle(f.index));
      }
    } catch (err) {
      // Durable but not in place: restart recovery finishes the renames.
      this.broken ??= new LogError(
        "io",
        `cannot move full bundles into place: ${(err as Error).message}; restart`,
      );
    }
  }

  /**
   * The file for bundle `index`: a spare prepared in the background when there is one
   * (creating a file while fsyncs run waits on the filesystem journal, so it is kept off
   * the commit path), else created here, with its directory left for the commit to sync.
   */
  private async createBundle(index: number, dirs: Set<string>): Promise<OpenBundle> {
    const spare = this.spares.get(index);
    this.spares.delete(index);
    const fd = spare ? await spare.catch(() => null) : null;
    if (fd !== null) return { index, fd, count: 0, size: 0 };
    this.nextFresh = Math.max(this.nextFresh, index + 1);
    const file = this.layout.openBundle(index);
    await this.mkdirOnce(path.dirname(file));
    dirs.add(path.dirname(file));
    return { index, fd: await openEmpty(file), count: 0, size: 0 };
  }

  /** Keeps SPARE_BUNDLES empty bundle files, with durable directory entries, ahead of the writer. */
  private prepareSpares(): void {
    // Refill in batches: one directory sync then covers several files, and every sync
    // forces a filesystem journal commit that the writer's own fsyncs would wait behind.
    if (this.spares.size > SPARE_BUNDLES / 2) return;
    const next = this.open ? this.open.index + 1 : this.durable / TILE_WIDTH;
    const indexes: number[] = [];
    for (let index = Math.max(this.nextFresh, next); index < next + SPARE_BUNDLES; index++)
      indexes.push(index);
    if (indexes.length === 0) return;
    const files = indexes.map((index) => this.layout.openBundle(index));
    const dirs = [...new Set(files.map((f) => path.dirname(f)))];
    const ready = (async () => {
      await Promise.all(dirs.map((d) => this.mkdirOnce(d)));
      // One after another, like the tiles: parallel creates in one directory contend.
      const fds: number[] = [];
      try {
        for (const f of files) fds.push(await openEmpty(f));
        // Syncing each new, empty file now (its inode, and on some filesystems its directory
        // entry) leaves only the entries' bytes for the commit's own fdatasync to write.
        await Promise.all(fds.map((fd) => fdatasync(fd)));
      } catch (err) {
        for (const fd of fds) fs.closeSync(fd);
        throw err;
      }
      await Promise.all(dirs.map((d) => fsyncDir(d)));
      return fds;
    })();
    ready.catch(() => undefined); // a failed spare is replaced by createBundle's own path
    indexes.forEach((index, k) => {
      const spare = ready.then((fds) => fds[k]!);
      spare.catch(() => undefined);
      this.spares.set(index, spare);
    });
    this.nextFresh = indexes[indexes.length - 1]! + 1;
  }

  private async mkdirOnce(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  /**
   * After a failed write the files may hold bytes that never became durable (and after a
   * failed fsync the page cache may lie about them): cut the bundle that was open back to
   * what was synced and drop the bundles this commit created. If even that fails, the log
   * refuses further writes until restarted (recovery then decides from the disk).
   */
  private async rollback(before: { count: number; size: number } | null, files: OpenBundle[]): Promise<void> {
    try {
      this.open = null;
      for (const [i, f] of files.entries()) {
        if (i === 0 && before) {
          fs.ftruncateSync(f.fd, before.size);
          await fdatasync(f.fd);
          Object.assign(f, before);
          this.open = f;
        } else {
          fs.closeSync(f.fd);
          await fsp.rm(this.layout.openBundle(f.index), { force: true });
        }
      }
    } catch (err) {
      this.broken = new LogError("io", `cannot roll back a failed write: ${(err as Error).message}; restart`);
    }
  }

  // ---- integration ----

  private startTimer(): void {
    this.timer = setInterval(() => {
      this.integrate().catch((err: unknown) => this.opts.onError?.(err));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Folds pending leaf hashes into tiles and signs a checkpoint covering them. */
  private integrate(): Promise<void> {
    this.integrating ??= this.integrateOnce().finally(() => {
      this.integrating = null;
      // Someone waits for entries that became durable during this round: go again now.
      if (this.waiters.length > 0 && this.builder.size < this.durable) {
        this.integrate().catch((err: unknown) => this.opts.onError?.(err));
      }
    });
    return this.integrating;
  }

  /** Integrates every durable entry, a bounded slice at a time so memory stays flat. */
  private async integrateOnce(): Promise<void> {
    while (this.builder.size < this.durable) {
      const start = this.builder.size;
      const end = Math.min(this.durable, start + INTEGRATE_SLICE);
      const leaves = await this.leavesFor(start, end);
      const before = this.builder.clone();
      const completed: TileData[] = [];
      for (const leaf of leaves) completed.push(...this.builder.push(leaf));
      try {
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

  /** Keeps the leaf hashes of a commit at `first` for integration, while they are contiguous. */
  private keepPending(first: number, leaves: Hash[]): void {
    if (this.pendingStart + this.pending.length === first && this.pending.length < MAX_PENDING_LEAVES) {
      for (const leaf of leaves) this.pending.push(leaf);
    } else {
      // Not contiguous (nothing kept since recovery) or too many: integration hashes the
      // entries before first + leaves.length from disk and continues from here.
      this.pending = [...leaves];
      this.pendingStart = first;
    }
  }

  /** Leaf hashes of [start, end): kept from the commits, else hashed from the bundles. */
  private leavesFor(start: number, end: number): Promise<Hash[]> {
    this.dropPendingBefore(start);
    if (this.pendingStart === start && this.pending.length >= end - start) {
      return Promise.resolve(this.pending.slice(0, end - start));
    }
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
    const note = signCheckpoint({ origin: this.origin, size, rootHash, extensions: [] }, this.keys.signer);
    await writeFileAtomic(this.layout.checkpoint, note);
    this.checkpoint = { origin: this.origin, size, rootHash, note };
    // Before telling anyone: whoever waits for this checkpoint then finds the directory
    // exactly as it describes (readers holding an older one fall back to wider files). A
    // partial left behind is harmless, so failing to remove one does not fail the checkpoint.
    await this.removeSupersededPartials().catch((err: unknown) => this.opts.onError?.(err));
    this.notify();
  }

  /** Adds the partial tiles and the partial entry bundle of the tree at builder.size. */
  private async addPartials(batch: WriteOnceFileBatch): Promise<void> {
    const size = this.builder.size;
    for (const t of this.builder.partialTiles()) batch.add(this.layout.hashTile(t.tile), t.data);
    const width = size % TILE_WIDTH;
    const bundle = Math.floor(size / TILE_WIDTH);
    if (width > 0) {
      const prefix = await this.reader.readEntryBundle(bundle, width);
      if (prefix === null) throw new LogError("corrupt", `open bundle ${bundle} lost entries`);
      batch.add(this.layout.partialBundle(bundle, width), prefix);
    }
  }

  /** The partial tiles and partial bundle that belong to the current tree (builder.size). */
  private currentPartials(): string[] {
    const width = this.builder.size % TILE_WIDTH;
    return [
      ...this.builder.partialTiles().map((t) => this.layout.hashTile(t.tile)),
      ...(width > 0 ? [this.layout.partialBundle(Math.floor(this.builder.size / TILE_WIDTH), width)] : []),
    ];
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
    await this.recoverEntries(trusted?.size ?? 0);
    if (trusted && this.durable < trusted.size) {
      throw new LogError(
        "corrupt",
        `the log holds ${this.durable} entries but its checkpoint covers ${trusted.size}: entries are missing`,
      );
    }
    this.prepareSpares();
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

  /** Finds the durable end of the log and reopens the open bundle, cutting a torn tail. */
  private async recoverEntries(hint: number): Promise<void> {
    let index = Math.floor(hint / TILE_WIDTH);
    while ((await fileExists(this.layout.bundle(index))) || (await this.finishFullOpenBundle(index))) index++;
    this.durable = index * TILE_WIDTH;
    const file = this.layout.openBundle(index);
    const data = await readFileIfExists(file);
    if (data === null) return;
    const { count, size } = validPrefix(data);
    // O_APPEND: every write lands at the end, also after a rollback truncated the file.
    const fd = fs.openSync(file, "a");
    if (size < data.length) {
      fs.ftruncateSync(fd, size);
      await fdatasync(fd);
      this.opts.onRepair?.(
        `cut a torn tail of ${data.length - size} bytes from ${file} (never acknowledged)`,
      );
    }
    this.open = { index, fd, count, size };
    this.durable += count;
  }

  /** A crash between syncing a full open bundle and renaming it: finish the rename. */
  private async finishFullOpenBundle(index: number): Promise<boolean> {
    const file = this.layout.openBundle(index);
    const data = await readFileIfExists(file);
    if (data === null) return false;
    const { count, size } = validPrefix(data);
    if (count < TILE_WIDTH) return false;
    if (size < data.length) await fsp.truncate(file, size);
    await fsp.rename(file, this.layout.bundle(index));
    await fsyncDir(path.dirname(file));
    return true;
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
  private async readTilesDurable(): Promise<number | null> {
    const text = (await readFileIfExists(this.layout.tilesDurable))?.toString("utf8").trim();
    if (text === undefined) return null;
    return /^\d+$/.test(text) ? Number(text) : 0;
  }

  /** Pushes entries [builder.size, size) from disk, writing and syncing the tiles they complete. */
  private async rebuildTilesTo(size: number): Promise<void> {
    while (this.builder.size < size) {
      const start = this.builder.size;
      const batch = new WriteOnceFileBatch();
      for (const leaf of await this.hashRange(start, Math.min(size, start + INTEGRATE_SLICE))) {
        for (const t of this.builder.push(leaf)) batch.add(this.layout.hashTile(t.tile), t.data);
      }
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
          return this.hasher.hash(data);
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

/**
 * Opens a bundle file empty, O_APPEND so writes land at the end also after a rollback
 * truncated it (a leftover from a failed commit or an unused spare holds nothing durable).
 */
async function openEmpty(file: string): Promise<number> {
  // A raw descriptor, not a FileHandle: the write path uses fs.writev/fdatasync on it, and a
  // dropped FileHandle would close it when garbage collected.
  const fd = await openAsync(file, "a");
  await ftruncateAsync(fd, 0);
  return fd;
}

const openAsync = promisify(fs.open);
const ftruncateAsync = promisify(fs.ftruncate);
const closeAsync = promisify(fs.close);

/** The longest prefix of an open bundle made of complete lines that each parse as JSON. */
function validPrefix(data: Buffer): { count: number; size: number } {
  let count = 0;
  let size = 0;
  let lines: Uint8Array[];
  try {
    lines = splitBundle(data.subarray(0, data.lastIndexOf(0x0a) + 1));
  } catch {
    lines = [];
  }
  for (const line of lines) {
    if (count === TILE_WIDTH || !isJsonObject(line)) break;
    count++;
    size += line.length + 1;
  }
  return { count, size };
}

function isJsonObject(line: Uint8Array): boolean {
  try {
    const v: unknown = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.length).toString("utf8"));
    return isRecord(v);
  } catch {
    return false;
  }
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

function toLogError(err: unknown): LogError {
  if (err instanceof LogError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return new LogError("full", "the disk is full");
  return new LogError("io", `write failed: ${(err as Error).message}`);
}
