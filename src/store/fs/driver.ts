// The filesystem driver: one data directory, laid out as C2SP tlog-tiles (layout.ts).
//
// Entries: writeEntries writes one record to the write-ahead log, whose sync (of that one file)
// makes them durable; once acknowledged, the entries are written to their bundle files in log
// order (bundle-files.ts), which are synced in batches: about every second, when the
// write-ahead log needs room, before a checkpoint names a full bundle, and on close (which
// then removes the write-ahead log's slots). Recovery cuts the bundle files back to what
// `entries-durable` says was synced and restores every acknowledged entry after that from the
// write-ahead log.
//
// Tiles and partial files are derived from the entries, so they are not synced with each
// checkpoint: full tiles are synced in batches (every few seconds, after enough of them, and
// on close) and the size they cover is recorded in `tiles-durable`.
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { Tile } from "../../tlog/index.js";
import { splitBundle } from "../bundle-format.js";
import type { DriverHooks, EncodedBundle, PendingEntries, StorageDriver } from "../driver.js";
import { fsyncDir, syncFiles, writeFileAtomic, WriteOnceFileBatch } from "../durable-file.js";
import { acquireLock, type DirLock } from "../lock.js";
import { partialWidth, type TileData } from "../tile-builder.js";
import { BUNDLE_SIZE, LogError, type EntryBundle } from "../types.js";
import { readRegularFile } from "./bounded-read.js";
import { BundleFiles } from "./bundle-files.js";
import { BundleCompactor, type CompactionStats } from "./compactor.js";
import { FsLogFiles } from "./files.js";
import { FsLayout } from "./layout.js";
import { readRetention, removeBundleFiles, writeRetention, type RetentionRecord } from "./retention.js";
import { tombstoneLines } from "./tombstone.js";
import { DEFAULT_WAL_OPTIONS, WriteAheadLog } from "./write-ahead-log.js";

/** Bundle files are synced at most this long after their entries were acknowledged (and on close). */
const BUNDLE_SYNC_INTERVAL_MS = 1_000;
/** Full tiles are synced at most this long after they were written (and on close)... */
const TILE_SYNC_INTERVAL_MS = 5_000;
/** ...or once this many wait, which bounds the list and the entries recovery re-hashes. */
const TILE_SYNC_MAX_FILES = 2_048;

export interface FsDriverOptions {
  /**
   * zstd level full bundles are compressed at once sealed (default: bundle-codec's); null keeps
   * them plain (plain and compressed bundles are read alike, so this can change at any time).
   */
  compressLevel?: number | null;
  /** Entries per seekable frame of a compressed bundle (default: bundle-codec's). */
  entriesPerFrame?: number;
}

export class FsDriver implements StorageDriver {
  readonly layout: FsLayout;
  private readonly files: FsLogFiles;
  private hooks: DriverHooks | null = null;
  private readonly bundles: BundleFiles;
  /** Opened by recover(). */
  private wal: WriteAheadLog | undefined;
  private lastBundleSync = Date.now();
  private bundleTimer: NodeJS.Timeout | null = null;
  /** Full tiles written since the last tile sync. */
  private unsyncedTiles: string[] = [];
  private lastTileSync = Date.now();
  /** The size last recorded in tiles-durable (null: not read or written yet). */
  private tilesMark: number | null = null;
  /** The partial files the current checkpoint names, removed once superseded. */
  private partials: string[] = [];

  /** Compresses sealed bundles in the background; null when compression is off. */
  readonly compactor: BundleCompactor | null;

  private constructor(
    dataDir: string,
    private readonly lock: DirLock,
    opts: FsDriverOptions,
  ) {
    this.layout = new FsLayout(dataDir);
    this.files = new FsLogFiles(dataDir);
    this.compactor =
      opts.compressLevel === null
        ? null
        : new BundleCompactor(this.layout, {
            level: opts.compressLevel,
            ...(opts.entriesPerFrame !== undefined ? { entriesPerFrame: opts.entriesPerFrame } : {}),
            onError: (err) => this.hooks?.failed(err),
          });
    this.bundles = new BundleFiles(
      this.layout,
      (first, count, joined) => this.hooks?.written(first, count, joined),
      (sealed) => this.compactor?.enqueue(sealed),
    );
  }

  /** The driver of the log in `dataDir` (created if needed), holding its writer's lock. */
  static async open(dataDir: string, opts: FsDriverOptions = {}): Promise<FsDriver> {
    await fsp.mkdir(dataDir, { recursive: true });
    const lock = await acquireLock(path.resolve(new FsLayout(dataDir).lockFile));
    return new FsDriver(dataDir, lock, opts);
  }

  get where(): string {
    return this.layout.dir;
  }

  // ---- reads ----

  readCheckpoint(): Promise<Uint8Array | null> {
    return this.files.readCheckpoint();
  }
  readTile(tile: Tile): Promise<Uint8Array | null> {
    return this.files.readTile(tile);
  }
  readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    return this.files.readEntryBundle(index, width);
  }

  readEntrySpan(index: number, from: number, width: number): Promise<EntryBundle | null> {
    return this.files.readEntrySpan(index, from, width);
  }
  readEncodedBundle(index: number): Promise<EncodedBundle | null> {
    return this.files.readEncodedBundle(index);
  }

  // ---- recovery ----

  async recover(trustedSize: number, newLog: boolean, hooks: DriverHooks): Promise<number> {
    this.hooks = hooks;
    // The partial files of the checkpoint on disk, superseded by the next one.
    this.partials = this.partialsOf(trustedSize);
    await this.bundles.recover(trustedSize, newLog, hooks.repaired);
    this.wal = await this.openWriteAhead(hooks);
    await this.replayWriteAhead(this.wal, hooks);
    this.appended = this.bundles.size;
    await this.flush();
    await this.wal.forgetBeyond(this.appended);
    this.bundleTimer = setInterval(() => {
      if (Date.now() - this.lastBundleSync < BUNDLE_SYNC_INTERVAL_MS) return;
      this.flush().catch((err: unknown) => this.hooks?.failed(err));
    }, BUNDLE_SYNC_INTERVAL_MS / 2);
    this.bundleTimer.unref();
    // Bundles left plain (by an older version, or a process that stopped first) are compressed
    // in the background.
    this.compactor?.scan().catch((err: unknown) => hooks.failed(err));
    return this.appended;
  }

  /** Writes to the bundle files what the write-ahead log holds beyond them. */
  private async replayWriteAhead(wal: WriteAheadLog, hooks: DriverHooks): Promise<void> {
    let restored = 0;
    for await (const record of wal.replay(this.bundles.size)) {
      await this.bundles.write(record.first, splitBundle(record.bytes), record.bytes);
      restored += record.count;
    }
    if (restored > 0) hooks.repaired(`restored ${restored} entries from the write-ahead log`);
  }

  // ---- sequencing ----

  /** Entries whose write-ahead records are synced. */
  private appended = 0;

  get refusal(): LogError | null {
    return this.bundles.error;
  }

  room(): Promise<void> {
    return this.bundles.room();
  }

  async writeEntries(
    first: number,
    entries: readonly Uint8Array[],
    joined: Uint8Array,
  ): Promise<PendingEntries> {
    const wal = this.writeAhead();
    const written = await wal.write(first, entries, joined);
    return {
      sync: () => wal.sync(written),
      acknowledged: () => {
        this.appended = first + entries.length;
        this.bundles.enqueue(first, entries, joined);
      },
    };
  }

  get writtenSize(): number {
    return this.bundles.size;
  }

  untilWritten(n: number): Promise<void> {
    return this.bundles.untilWritten(n);
  }

  private openWriteAhead(hooks: DriverHooks): Promise<WriteAheadLog> {
    return WriteAheadLog.open(this.layout.walDir, {
      ...DEFAULT_WAL_OPTIONS,
      // Frees every slot: the bundle writer may still hold acknowledged entries in its queue.
      makeRoom: async () => {
        await this.bundles.untilWritten(this.appended);
        await this.flush();
      },
      onError: hooks.failed,
    });
  }

  /**
   * Makes every appended entry durable in its bundle, then replaces the write-ahead log's slot
   * files with empty ones, so no copy of an entry (an erased one) stays there. Only while
   * nothing is being appended (erasure runs on a log no one else writes).
   */
  async clearWriteAhead(): Promise<void> {
    const hooks = this.hooks;
    if (hooks === null) throw new LogError("closed", "the log is not open");
    await this.emptyWriteAhead();
    this.wal = await this.openWriteAhead(hooks);
  }

  /**
   * Makes every acknowledged entry durable in its bundle, closes the write-ahead log and
   * removes its slot files: nothing in them is needed any more.
   */
  private async emptyWriteAhead(): Promise<void> {
    await this.bundles.untilWritten(this.appended);
    await this.flush();
    await this.writeAhead().close();
    this.wal = undefined;
    for (const name of await fsp.readdir(this.layout.walDir))
      if (name.endsWith(".wal")) await fsp.rm(path.join(this.layout.walDir, name), { force: true });
    await fsyncDir(this.layout.walDir);
  }

  /**
   * Replaces entries `indexes` by empty lines (the format's tombstone) in their bundles, which
   * must be full with durable tiles: their leaf hashes stay in the tiles. Each bundle is
   * rewritten whole, in the form it is stored (compressed or plain), atomically and durably;
   * partial versions of it are removed. Returns the bundles rewritten (pruned ones are skipped).
   */
  async eraseEntries(indexes: readonly number[]): Promise<number> {
    const byBundle = new Map<number, Set<number>>();
    for (const i of indexes) {
      const b = Math.floor(i / BUNDLE_SIZE);
      if ((b + 1) * BUNDLE_SIZE > this.prunableBefore)
        throw new LogError(
          "invalid",
          `cannot erase entry ${i}: its bundle is not full with durable tiles yet (entries before ${this.prunableBefore} can be erased)`,
        );
      let set = byBundle.get(b);
      if (set === undefined) byBundle.set(b, (set = new Set()));
      set.add(i - b * BUNDLE_SIZE);
    }
    return this.exclusively(async () => {
      let rewritten = 0;
      for (const [b, lines] of [...byBundle].sort((x, y) => x[0] - y[0]))
        if (await tombstoneLines(this.layout, this.files, b, lines, this.compactor?.tombstone)) rewritten++;
      return rewritten;
    });
  }

  private writeAhead(): WriteAheadLog {
    if (!this.wal) throw new LogError("closed", "the log is closed");
    return this.wal;
  }

  /**
   * Syncs the bundle files (see BundleFiles.sync); the write-ahead log may then reuse its
   * records of the entries they hold.
   */
  async flush(): Promise<void> {
    this.lastBundleSync = Date.now();
    this.writeAhead().release(await this.bundles.sync());
  }

  // ---- tiles ----

  async writeTiles(tiles: readonly TileData[], opts: { durable: boolean }): Promise<void> {
    const batch = new WriteOnceFileBatch();
    for (const t of tiles) batch.add(this.layout.hashTile(t.tile), t.data);
    await batch.commit({ sync: opts.durable });
    if (!opts.durable) {
      for (const t of tiles)
        if (t.tile.width === BUNDLE_SIZE) this.unsyncedTiles.push(this.layout.hashTile(t.tile));
    }
  }

  /**
   * Makes the full tiles written so far durable, then records that the tree of `size` has all
   * its full tiles on disk. Until then a power loss can lose them; recovery rewrites them from
   * the entries. (After a publish that failed half-way the mark is merely conservative.)
   */
  async syncTiles(size: number, force: boolean): Promise<void> {
    const due = Date.now() - this.lastTileSync >= TILE_SYNC_INTERVAL_MS;
    if (!force && !due && this.unsyncedTiles.length < TILE_SYNC_MAX_FILES) return;
    const files = this.unsyncedTiles;
    if (files.length === 0 && (!force || this.tilesMark === size)) return;
    this.lastTileSync = Date.now();
    this.unsyncedTiles = [];
    try {
      await syncFiles(files);
      await writeFileAtomic(this.layout.tilesDurable, `${size}\n`);
      this.tilesMark = size;
    } catch (err) {
      this.unsyncedTiles = [...files, ...this.unsyncedTiles];
      throw err;
    }
  }

  /**
   * The tree size whose full tiles are synced; null when there is no mark at all (a log older
   * than the mark). The mark is derived: a damaged one (not a count, not a regular file, beyond
   * the log) is removed with a warning and counts as 0, which only costs re-hashing the entries.
   */
  async readTilesDurable(trustedSize: number): Promise<number | null> {
    const file = this.layout.tilesDurable;
    let problem: string;
    try {
      const data = await readRegularFile(file, 64, "tiles-durable");
      if (data === null) return (this.tilesMark = null);
      const text = data.toString("utf8").trim();
      const size = Number(text);
      if (/^\d+$/.test(text) && size <= trustedSize) return (this.tilesMark = size);
      problem = /^\d+$/.test(text)
        ? `${size} is beyond the checkpoint's ${trustedSize} entries`
        : `not a count: ${JSON.stringify(text.slice(0, 40))}`;
    } catch (err) {
      problem = (err as Error).message;
    }
    this.hooks?.repaired(
      `${file}: ${problem}; re-hashing the entries to rebuild the tiles, and writing it again`,
    );
    await fsp.rm(file, { recursive: true, force: true });
    return (this.tilesMark = 0);
  }

  // ---- publishing ----

  async publishCheckpoint(size: number, note: string): Promise<void> {
    // The checkpoint names its full bundles by their final paths: put them there first
    // (one sync covers every entry written before it is called).
    if (this.bundles.syncedSize < size - (size % BUNDLE_SIZE)) await this.flush();
    const partial = this.partialBundle(size);
    if (partial) {
      const prefix = await this.files.readEntryBundle(partial.index, partial.width);
      if (prefix?.data === undefined)
        throw new LogError("corrupt", `open bundle ${partial.index} lost entries`);
      const batch = new WriteOnceFileBatch();
      batch.add(partial.file, prefix.data);
      await batch.commit({ sync: false });
    }
    await writeFileAtomic(this.layout.checkpoint, note);
    // Before anyone is told: whoever waits for this checkpoint then finds the directory
    // exactly as it describes (readers holding an older one fall back to wider files). A
    // partial left behind is harmless, so failing to remove one does not fail the checkpoint.
    await this.removeSupersededPartials(size).catch((err: unknown) => this.hooks?.failed(err));
  }

  /** The partial entry bundle of the tree of `size`, if its last bundle is not full. */
  private partialBundle(size: number): { index: number; width: number; file: string } | null {
    const width = size % BUNDLE_SIZE;
    if (width === 0) return null;
    const index = Math.floor(size / BUNDLE_SIZE);
    return { index, width, file: this.layout.partialBundle(index, width) };
  }

  /** The partial tiles and partial bundle that belong to the tree of `size`. */
  private partialsOf(size: number): string[] {
    const out: string[] = [];
    for (let level = 0; BUNDLE_SIZE ** level <= size; level++) {
      const width = partialWidth(size, level);
      if (width > 0)
        out.push(
          this.layout.hashTile({ level, index: Math.floor(size / BUNDLE_SIZE ** (level + 1)), width }),
        );
    }
    const bundle = this.partialBundle(size);
    if (bundle) out.push(bundle.file);
    return out;
  }

  /**
   * Removes the partial files of the previous checkpoint that the new one no longer names:
   * a wider partial or the full file now holds the same prefix (readers fall back to it).
   */
  private async removeSupersededPartials(size: number): Promise<void> {
    const keep = new Set(this.partialsOf(size));
    const old = this.partials.filter((f) => !keep.has(f));
    this.partials = [...keep];
    await Promise.all(old.map((f) => fsp.rm(f, { force: true })));
    // A `.p` directory whose tile or bundle became full is left empty.
    const keptDirs = new Set([...keep].map((f) => path.dirname(f)));
    const emptied = new Set(old.map((f) => path.dirname(f)).filter((d) => !keptDirs.has(d)));
    await Promise.all([...emptied].map((d) => fsp.rmdir(d).catch(() => undefined)));
  }

  // ---- retention ----

  /**
   * Removes the bundles of entries before `before` (a multiple of 256, within the full bundles
   * whose tiles are durable), recording first that they were pruned and why: readers then report those entries
   * as pruned. Their leaf hashes stay in the tiles, so the tree and every checkpoint still verify.
   */
  /** Entries before which full bundles can be pruned now: those whose level-0 tiles are durable. */
  get prunableBefore(): number {
    const tiled = this.tilesMark ?? 0;
    return tiled - (tiled % BUNDLE_SIZE);
  }

  /** What DATA/retention says was pruned, or null when nothing was. */
  prunedSoFar(): Promise<RetentionRecord | null> {
    return readRetention(this.layout.retention);
  }

  async pruneBundles(before: number, reason: string): Promise<void> {
    // Only bundles whose level-0 tiles are durable: those keep the leaf hashes.
    const tiled = this.tilesMark ?? 0;
    if (before % BUNDLE_SIZE !== 0 || before > tiled - (tiled % BUNDLE_SIZE)) {
      throw new LogError(
        "invalid",
        `cannot prune before ${before}: not the end of a full bundle whose tiles are durable (${tiled})`,
      );
    }
    const current = await readRetention(this.layout.retention);
    const from = current?.prunedBefore ?? 0;
    if (before <= from) return;
    await writeRetention(this.layout.retention, { prunedBefore: before, reason });
    await this.exclusively(() => removeBundleFiles(this.layout, from, before));
  }

  /**
   * Compresses every full bundle still stored plain (a data directory from before compression,
   * or bundles a stopped process left) and resolves once done, with what this driver compressed.
   * With `reframe`, also rewrites bundles compressed in one frame into seekable frames.
   */
  /**
   * Compacts every full bundle still plain (and, with `reframe`, every one not in seekable
   * frames of this log's size). `onProgress` hears bundles done of those found, a few times a
   * second: on a large log this takes minutes.
   */
  async compactAll(
    opts: { reframe?: boolean; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<CompactionStats> {
    const compactor = this.compactor;
    if (compactor === null) throw new LogError("invalid", "compression is off for this log");
    const doneSoFar = (): number => compactor.stats.bundles + compactor.stats.reframed;
    const before = doneSoFar();
    await compactor.scan({ reframe: opts.reframe === true });
    const total = compactor.stats.queued;
    const tell = opts.onProgress && (() => opts.onProgress?.(doneSoFar() - before, total));
    const ticker = tell && setInterval(tell, 250);
    try {
      await compactor.idle();
    } finally {
      if (ticker) clearInterval(ticker);
    }
    tell?.();
    return { ...compactor.stats };
  }

  /** Runs `fn`, which rewrites or removes full bundles, while none is being compressed. */
  private exclusively<T>(fn: () => Promise<T>): Promise<T> {
    return this.compactor === null ? fn() : this.compactor.exclusive(fn);
  }

  async close(): Promise<void> {
    await this.compactor?.close();
    if (this.bundleTimer) clearInterval(this.bundleTimer);
    this.bundleTimer = null;
    // The slots are a ring reused while the log runs (up to maxSlots × slotBytes, allocated
    // ahead); a stopped log needs none of it. When the bundles cannot be made durable now (a
    // failing disk), the records stay for the next open to replay.
    if (this.wal && this.hooks !== null && this.bundles.error === null)
      await this.emptyWriteAhead().catch((err: unknown) => this.hooks?.failed(err));
    await this.bundles.close();
    await this.wal?.close();
    this.wal = undefined;
    await this.lock.release();
  }
}
