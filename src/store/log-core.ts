// The log itself, over any storage driver (driver.ts): sequencing, group commit, integration
// into tiles, publishing signed checkpoints, and recovery. A driver only stores and reads bytes.
//
// Write path: append → group commit → driver.writeEntries, then the write's sync (durable when
// it resolves) → acknowledged in log order → resolve. One group's sync overlaps the next
// group's write (group-commit.ts).
// The driver then makes the entries readable and hands back their bytes (hooks.written), whose
// leaf hashes are computed on a worker (or taken from the appender) for integration.
//
// Integration runs on a short timer: leaf hashes are folded into tiles (the roots of full
// level-0 tiles hashed on a worker), the tiles are stored, and a checkpoint is published in
// three steps: signed by the log's key, cosigned by whoever the log collects cosignatures from,
// written by the driver. Full tiles are made durable in batches (driver.syncTiles): they are
// derived from the entries, so a crash before that costs a re-hash, never an entry.
//
// Recovery on open: the driver restores its entries and says how many are durable; the tiles
// are rebuilt from the right edge at the size the driver last recorded as durable by
// re-hashing the entries after it, and checked against the signed checkpoint (from every
// entry when that fails; from the level-0 tiles where retention removed the entries); entries
// beyond the checkpoint are integrated.
import { randomBytes } from "node:crypto";
import os from "node:os";
import {
  cachingHashReader,
  formatCheckpoint,
  hashesEqual,
  signNote,
  StoredHashCache,
  tileHashReader,
  type Checkpoint,
  type Hash,
  type HashReader,
  type Signer,
  type Tile,
  type Verifier,
} from "../tlog/index.js";
import { checkEntry, joinedSize, joinEntries } from "./bundle-format.js";
import { CommitBuffers } from "./commit-buffers.js";
import type { DriverHooks, EncodedBundle, PendingEntries, StorageDriver } from "./driver.js";
import {
  DEFAULT_GROUP_COMMIT_LIMITS,
  GroupCommitter,
  type GroupCommitLimits,
  type WrittenGroup,
} from "./group-commit.js";
import { LeafHasherPool } from "./leaf-hasher.js";
import {
  bundleWithin,
  entrySpans,
  leavesCovered,
  readEntriesFrom,
  readSignedCheckpoint,
  sourceTileReader,
} from "./log-reader.js";
import { rightEdgeAt } from "./right-edge.js";
import { partialWidth, splitTileData, TileBuilder, type TileData } from "./tile-builder.js";
import {
  BUNDLE_SIZE,
  LogError,
  MAX_ENTRY_BYTES,
  toLogError,
  type AppendOptions,
  type AuditLog,
  type EntryBundle,
  type LogEntry,
  type SignedCheckpoint,
} from "./types.js";

/** The log's own key: it signs every checkpoint; `verifiers` open the checkpoints it finds on open. */
export interface LogKeys {
  origin: string;
  signer: Signer;
  /**
   * Every key that signs each checkpoint, when that is more than `signer` (the overlap of a key
   * rotation, see src/keys/): read at each publish, so a rotation needs no restart.
   */
  readonly signers?: readonly Signer[];
  /** The log's verifier keys (its key, and during a rotation the previous one). */
  verifiers: readonly Verifier[];
  /** The verifier key text auditors pin. */
  verifierKey: string;
}

/** A default origin unique to this installation; C2SP origins carry no spaces or '+'. */
export function defaultOrigin(): string {
  return `kubetrail.local/${randomBytes(8).toString("hex")}`;
}

/**
 * The cosigning step of publishing: given the note the log signed, resolves to the note to
 * publish (with witnesses' cosignatures attached, see tlog attachSignatures). A failure does
 * not stop the checkpoint: it is published with the log's signature alone and the error told.
 */
export type Cosign = (signed: string, checkpoint: Checkpoint) => Promise<string>;

export interface LogOptions {
  /** How often durable entries are folded into tiles and a new checkpoint (ms). */
  integrateIntervalMs?: number;
  limits?: Partial<GroupCommitLimits>;
  /** Collects cosignatures for each checkpoint before it is written (none by default). */
  cosign?: Cosign;
  /** Told about repairs made while opening (unsynced bundle bytes cut, entries restored, tiles rebuilt). */
  onRepair?: (message: string) => void;
  /** Told when background work fails (integration, syncs, cosigning); it is retried. */
  onError?: (err: unknown) => void;
}

const TILE_WIDTH = BUNDLE_SIZE;
/** Entries integrated per round: bounds the bytes held while hashing (128 bundles). */
const INTEGRATE_SLICE = 128 * BUNDLE_SIZE;
/**
 * Leaf hashes kept from commits for the integrator (32 MB). Beyond that (integration
 * failing for a long time) they are dropped and re-computed from the stored entries.
 */
const MAX_PENDING_LEAVES = 1 << 20;

/**
 * Opens the log stored by `driver` (recovering it) and signs with `keys`. The driver is the
 * log's from here: closing the log closes it, also when opening fails.
 */
export async function openLog(
  driver: StorageDriver,
  keys: LogKeys,
  opts: LogOptions = {},
): Promise<AuditLog> {
  const log = new Log(driver, keys, opts);
  try {
    await log.recover();
    return log;
  } catch (err) {
    await log.release();
    throw err;
  }
}

class Log implements AuditLog {
  private readonly committer: GroupCommitter;
  /** How long new entries wait, at most when idle, for the round that signs a checkpoint covering them. */
  readonly integrateIntervalMs: number;
  /** Acknowledged entries: durable in the driver. */
  private durable = 0;
  /** Entries handed to the driver: acknowledged, or written and waiting for their sync. */
  private written = 0;
  /** Leaf hashing runs on worker threads: of each commit's bytes, and of bundles in recovery. */
  private readonly hasher = new LeafHasherPool(Math.max(1, os.availableParallelism() - 1));
  private builder = new TileBuilder();
  /**
   * Leaf hashes of entries not yet integrated, computed when they were written: pending[i] is
   * entry pendingStart + i. Integration takes them from here instead of re-reading and
   * re-hashing the entries.
   */
  private pending: Hash[] = [];
  private pendingStart = 0;
  /** Entries before this index have been handed to hashWritten. */
  private hashRequested = 0;
  private readonly buffers = new CommitBuffers();
  /** Leaf hashes the appender gave, by the first index of their commit, until it is written. */
  private readonly givenLeaves = new Map<number, readonly Hash[]>();
  /** Settles once the leaf hashes of everything written are in `pending`. */
  private hashed: Promise<void> = Promise.resolve();
  private checkpoint!: SignedCheckpoint;
  private timer: NodeJS.Timeout | null = null;
  private integrating: Promise<void> | null = null;
  private readonly listeners = new Set<(cp: SignedCheckpoint) => void>();
  /** Stored hashes read for proofs (2 MB of hashes at most): they never change. */
  private readonly storedHashes = new StoredHashCache(65_536);
  private waiters: { size: number; resolve: (cp: SignedCheckpoint) => void }[] = [];
  private closed = false;
  private readonly hooks: DriverHooks;
  /** Time spent in finished cosigning steps (ms), and when the one under way began. */
  private cosignedMs = 0;
  private cosigningSince: number | null = null;

  constructor(
    private readonly driver: StorageDriver,
    private readonly keys: LogKeys,
    private readonly opts: LogOptions,
  ) {
    this.integrateIntervalMs = opts.integrateIntervalMs ?? 500;
    this.hooks = {
      written: (first, count, joined) => this.hashWritten(first, count, joined),
      repaired: (message) => opts.onRepair?.(message),
      failed: (err) => opts.onError?.(err),
    };
    this.committer = new GroupCommitter(
      {
        write: (entries, leafHashes) => this.write(entries, leafHashes),
        rewind: () => (this.written = this.durable),
      },
      { ...DEFAULT_GROUP_COMMIT_LIMITS, ...opts.limits },
    );
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
  cosignerWaitMs(): number {
    return this.cosignedMs + (this.cosigningSince === null ? 0 : Date.now() - this.cosigningSince);
  }

  append(
    entries: Uint8Array[],
    leafHashes?: readonly Uint8Array[],
    opts: AppendOptions = {},
  ): Promise<{ firstIndex: number }> {
    const refused = this.driver.refusal;
    if (refused) return Promise.reject(refused);
    if (entries.length === 0) return Promise.resolve({ firstIndex: this.durable });
    if (leafHashes !== undefined && leafHashes.length !== entries.length) {
      return Promise.reject(
        new LogError("invalid", `${leafHashes.length} leaf hashes given for ${entries.length} entries`),
      );
    }
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const tombstone = entry.length === 0 && opts.tombstones === true && leafHashes !== undefined;
      const problem =
        entry.length > MAX_ENTRY_BYTES
          ? `entry of ${entry.length} bytes is larger than the log's maximum (${MAX_ENTRY_BYTES})`
          : tombstone
            ? null
            : checkEntry(entry);
      if (problem) return Promise.reject(new LogError("invalid", `entry ${i} of the batch: ${problem}`));
      if (leafHashes !== undefined && leafHashes[i]!.length !== 32) {
        return Promise.reject(new LogError("invalid", `leaf hash ${i} of the batch is not 32 bytes`));
      }
      bytes += entry.length + 1;
    }
    return this.committer.submit(entries, bytes, leafHashes);
  }

  readEntries(start: number, end: number): AsyncIterable<LogEntry> {
    if (start < 0 || end > this.durable || start > end) {
      throw new LogError("invalid", `entries [${start}, ${end}) are outside the log of ${this.durable}`);
    }
    return this.readWritten(start, end);
  }

  /** Acknowledged entries are readable moments later: reads wait for them. */
  private async *readWritten(start: number, end: number): AsyncIterable<LogEntry> {
    await this.driver.untilWritten(end);
    yield* readEntriesFrom(entrySpans(this.driver), start, end);
  }

  readTile(tile: Tile): Promise<Uint8Array | null> {
    if (leavesCovered(tile) > BigInt(this.checkpoint.size)) return Promise.resolve(null);
    return this.driver.readTile(tile);
  }

  readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    if (!bundleWithin(index, width, this.checkpoint.size)) return Promise.resolve(null);
    return this.driver.readEntryBundle(index, width);
  }

  async readEncodedBundle(index: number): Promise<EncodedBundle | null> {
    if (!bundleWithin(index, BUNDLE_SIZE, this.checkpoint.size)) return null;
    return (await this.driver.readEncodedBundle?.(index)) ?? null;
  }

  hashReader(): HashReader {
    const size = this.checkpoint.size;
    const tiles = tileHashReader(
      size,
      sourceTileReader((t) => this.driver.readTile(t)),
    );
    return cachingHashReader(tiles, this.storedHashes, size);
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
      // Entries the driver cannot take now stay recoverable in it (a write-ahead copy).
      await this.driver.untilWritten(this.durable);
      await this.integrate();
      await this.driver.syncTiles(this.checkpoint.size, true);
      await this.driver.flush();
    } finally {
      // Even when the last sync fails (recovery redoes it), nothing stays open or locked.
      await this.release();
    }
  }

  /** Closes the driver and the workers (also after a failed open). */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.hasher.close();
    await this.driver.close();
  }

  // ---- write path ----

  /**
   * Writes `entries` after everything written so far (acknowledged or not); they are durable
   * once the returned group's sync resolves, and acknowledged in log order. A failed write or
   * sync leaves nothing to undo: after a failed sync the committer rewinds, and the next
   * commit writes the same indexes again.
   */
  private async write(
    entries: readonly Uint8Array[],
    leafHashes: readonly Hash[] | undefined,
  ): Promise<WrittenGroup> {
    const refused = this.driver.refusal;
    if (refused) throw refused;
    await this.driver.room();
    const first = this.written;
    // One copy of the commit's bytes: the driver, then the worker computing their leaf
    // hashes, take it (see hashWritten).
    const joined = joinEntries(entries, this.buffers.take(joinedSize(entries)));
    // Set before the driver can call back: a driver may hand the entries back at once.
    if (leafHashes !== undefined) this.givenLeaves.set(first, leafHashes);
    const forget = (): void => {
      this.givenLeaves.delete(first);
      this.buffers.give(joined.buffer as ArrayBuffer);
    };
    let pending: PendingEntries;
    try {
      pending = await this.driver.writeEntries(first, entries, joined);
    } catch (err) {
      forget();
      throw toLogError(err);
    }
    this.written = first + entries.length;
    return {
      first,
      sync: () => pending.sync().catch((err: unknown) => Promise.reject(toLogError(err))),
      acknowledge: () => {
        this.durable = first + entries.length;
        pending.acknowledged();
      },
      abandon: forget,
    };
  }

  /**
   * Keeps the leaf hashes of entries just written for integration: those the appender gave,
   * else hashed by a worker, which is lent the commit's buffer and hands it back for another
   * commit. Either way they join `pending` in log order.
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
      // A shortcut only: without these hashes integration hashes the entries from storage.
      const hashes = await leaves.catch(() => null);
      if (hashes !== null) this.keepPending(first, splitTileData(hashes));
    });
  }

  // ---- integration ----

  private startTimer(): void {
    this.timer = setInterval(() => {
      this.integrate().catch((err: unknown) => this.opts.onError?.(err));
    }, this.integrateIntervalMs);
    this.timer.unref();
  }

  /** Folds pending leaf hashes into tiles and publishes a checkpoint covering them. */
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

  /**
   * Integrates every entry acknowledged when the round began, a bounded slice at a time so
   * memory stays flat. Entries written during the round wait for the next one: chasing them
   * turned a steady stream of appends into back-to-back publishes (partial tiles, partial
   * bundle, a signed checkpoint and its syncs, each time), most of the log's CPU per entry.
   */
  private async integrateOnce(): Promise<void> {
    // What the driver cannot take now (a full disk) waits for a later round.
    await this.driver.untilWritten(this.durable).catch(() => undefined);
    await this.hashed;
    const target = this.driver.writtenSize;
    while (this.builder.size < target) {
      const start = this.builder.size;
      const end = Math.min(target, start + INTEGRATE_SLICE);
      const leaves = await this.leavesFor(start, end);
      const before = this.builder.clone();
      const completed = await this.fold(leaves);
      try {
        await this.publish(completed);
        this.dropPendingBefore(this.builder.size);
      } catch (err) {
        // Retry from the same place next time, so no completed tile is skipped.
        this.builder = before;
        throw err;
      }
    }
    await this.driver.syncTiles(this.checkpoint.size, false);
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
      // entries before first + leaves.length from storage and continues from here.
      this.pending = [...leaves];
      this.pendingStart = first;
    }
  }

  /**
   * Leaf hashes of a prefix of [start, end): kept from the commits, else hashed from storage.
   * Only entries whose hashes will never arrive (after recovery, or beyond MAX_PENDING_LEAVES)
   * are read back.
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
   * Publishes the tree at builder.size: its new full tiles and its partial tiles are stored,
   * then the checkpoint is signed, cosigned and written. Only the checkpoint must be durable
   * at once: the entries it covers are, and everything else can be rebuilt from them.
   */
  private async publish(completed: TileData[]): Promise<void> {
    const size = this.builder.size;
    await this.driver.writeTiles([...completed, ...this.builder.partialTiles()], { durable: false });
    const checkpoint: Checkpoint = {
      origin: this.origin,
      size,
      rootHash: this.builder.root(),
      extensions: [],
    };
    const signed = await signNote(formatCheckpoint(checkpoint), this.keys.signers ?? [this.keys.signer]);
    const note = await this.cosigned(signed, checkpoint);
    await this.driver.publishCheckpoint(size, note);
    this.checkpoint = { origin: this.origin, size, rootHash: checkpoint.rootHash, note };
    this.notify();
  }

  /** The note with the cosignatures collected for it; the log's signature alone if that fails. */
  private async cosigned(signed: string, checkpoint: Checkpoint): Promise<string> {
    if (!this.opts.cosign) return signed;
    const since = (this.cosigningSince = Date.now());
    try {
      return await this.opts.cosign(signed, checkpoint);
    } catch (err) {
      this.opts.onError?.(err);
      return signed;
    } finally {
      this.cosignedMs += Date.now() - since;
      this.cosigningSince = null;
    }
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

  /** Brings the storage to a consistent state; see the comment at the top of the file. */
  async recover(): Promise<void> {
    const trusted = await readSignedCheckpoint(this.driver, this.keys.verifiers);
    if (trusted !== null && trusted.origin !== this.origin) {
      throw new LogError(
        "corrupt",
        `${this.driver.where}: the checkpoint is of "${trusted.origin}", not "${this.origin}"`,
      );
    }
    this.durable = await this.driver.recover(trusted?.size ?? 0, trusted === null, this.hooks);
    this.written = this.durable;
    if (trusted && this.durable < trusted.size) {
      throw new LogError(
        "corrupt",
        `the log holds ${this.durable} entries but its checkpoint covers ${trusted.size}: entries are missing`,
      );
    }
    if (trusted) {
      this.checkpoint = trusted;
      await this.recoverTiles(trusted);
    } else {
      // From here a missing durable mark can only mean a log older than the mark (see recoverTiles).
      await this.driver.syncTiles(0, true);
      await this.publish([]);
    }
    if (this.builder.size < this.durable) await this.integrateOnce();
    this.startTimer();
  }

  /**
   * Brings the tiles to the trusted checkpoint. After a clean close its partial tiles give
   * the signed root directly. Otherwise the builder resumes from the right edge at the size
   * whose full tiles were durable, re-hashing only the entries after it and rewriting their
   * tiles; if even that does not give the signed root, every tile is rebuilt from the entries.
   */
  private async recoverTiles(trusted: SignedCheckpoint): Promise<void> {
    // A log written before the mark existed made every tile durable with its checkpoint.
    const durable = (await this.driver.readTilesDurable(trusted.size)) ?? trusted.size;
    if (durable === trusted.size && (await this.loadPartialTiles(trusted))) return;
    try {
      this.builder = await rightEdgeAt(durable, {
        readFullTile: (level, index) => this.driver.readTile({ level, index, width: TILE_WIDTH }),
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
    await this.driver.writeTiles(this.builder.partialTiles(), { durable: false });
    // The files published with the checkpoint (its partial bundle) may be gone too.
    await this.driver.publishCheckpoint(trusted.size, trusted.note);
    await this.driver.syncTiles(trusted.size, true);
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
      let data: Uint8Array | null;
      try {
        data = await this.driver.readTile(tile);
      } catch (err) {
        // A damaged partial tile is derived data: the caller rebuilds the tiles from the entries.
        if (!(err instanceof LogError && err.code === "corrupt")) throw err;
        this.opts.onRepair?.(`${err.message}; rebuilding the tiles from the entries`);
        return false;
      }
      if (data === null) return false;
      rows.push(splitTileData(data));
    }
    const builder = new TileBuilder(trusted.size, rows);
    if (!hashesEqual(builder.root(), trusted.rootHash)) return false;
    this.builder = builder;
    return true;
  }

  /** Pushes entries [builder.size, size), writing the tiles they complete durably. */
  private async rebuildTilesTo(size: number): Promise<void> {
    while (this.builder.size < size) {
      const start = this.builder.size;
      const leaves = await this.hashRange(start, Math.min(size, start + INTEGRATE_SLICE));
      await this.driver.writeTiles(await this.fold(leaves), { durable: true });
    }
  }

  /**
   * Leaf hashes of entries [start, end), re-read and hashed off-thread. Where retention removed
   * the entries (or one was erased) the level-0 tile, which keeps every leaf hash, gives them.
   */
  private async hashRange(start: number, end: number): Promise<Hash[]> {
    const bundles: Promise<Uint8Array>[] = [];
    for (let b = Math.floor(start / TILE_WIDTH); b * TILE_WIDTH < end; b++) {
      const width = Math.min(TILE_WIDTH, end - b * TILE_WIDTH);
      bundles.push(this.driver.readEntryBundle(b, width).then((got) => this.bundleLeaves(b, width, got)));
    }
    const out: Hash[] = [];
    let index = Math.floor(start / TILE_WIDTH) * TILE_WIDTH;
    for (const hashes of await Promise.all(bundles)) {
      for (let i = 0; i < hashes.length; i += 32, index++) {
        if (index >= start && index < end) out.push(hashes.subarray(i, i + 32));
      }
    }
    if (out.length !== end - start) {
      throw new LogError("corrupt", `entries ${start}–${end - 1}: found ${out.length} in storage`);
    }
    return out;
  }

  /** The leaf hashes of bundle `b` (`width` entries) as read: hashed, or from its level-0 tile. */
  private async bundleLeaves(b: number, width: number, got: EntryBundle | null): Promise<Uint8Array> {
    if (got === null) throw new LogError("corrupt", `entry bundle ${b} is missing`);
    if (got.gone === undefined && got.erased === undefined)
      return (await this.hasher.hashGiven(got.data)).hashes;
    const tile = await this.driver.readTile({ level: 0, index: b, width });
    if (tile === null) {
      throw new LogError(
        "corrupt",
        `entry bundle ${b} was ${got.gone?.state ?? "erased"} and its hash tile is missing`,
      );
    }
    if (got.gone !== undefined) return tile;
    // Erased lines are empty; the others are hashed and must match the tile.
    const hashes = (await this.hasher.hashGiven(got.data)).hashes;
    const out = tile.slice();
    for (let i = 0; i * 32 < hashes.length && i < width; i++) {
      if (!got.erased?.has(i)) out.set(hashes.subarray(i * 32, i * 32 + 32), i * 32);
    }
    return out;
  }
}
