// The memory driver: the log's bytes in this process's memory. Everything it stores survives
// closing and reopening the log over the same MemoryStore (a crash of the process loses it
// all). For tests of everything above the driver, the log's conformance suite, and tools.
import { generateNoteKey, NoteSigner, NoteVerifier, tilePath, type Tile } from "../../tlog/index.js";
import { joinEntries } from "../bundle-format.js";
import type { DriverHooks, LogSource, PendingEntries, StorageDriver } from "../driver.js";
import { defaultOrigin, type LogKeys } from "../log-core.js";
import type { TileData } from "../tile-builder.js";
import { BUNDLE_SIZE, LogError, type EntryBundle, type Gone } from "../types.js";

/** What a memory log holds; give the same store to open the log again. */
export class MemoryStore {
  readonly entries: (Uint8Array | null)[] = [];
  /** Hash tiles by their tlog-tiles path (full and partial). */
  readonly tiles = new Map<string, Uint8Array>();
  checkpoint: Uint8Array | null = null;
  tilesDurable: number | null = null;
  /** Entries before this index were pruned, with the reason. */
  pruned: { before: number; reason: string } | null = null;
  /** Erased entries and why. */
  readonly erased = new Map<number, string>();
  /** True while a log has the store open for writing. */
  locked = false;
  private key: { signerKey: string; verifierKey: string } | null = null;

  /** A store whose key is made for `origin` now, or else by the first open (as a new data directory's). */
  constructor(origin?: string) {
    if (origin !== undefined) this.key = generateNoteKey(origin);
  }

  /** The log's verifier key; LogError("corrupt") before the log was first opened. */
  get verifierKey(): string {
    if (this.key === null) throw new LogError("corrupt", "memory log: no key yet (the log was never opened)");
    return this.key.verifierKey;
  }

  /**
   * The log's signing key, made on first use for `origin` (or a default one). The origin is fixed
   * then: asking for another is LogError("invalid"), since every checkpoint names it.
   */
  keys(origin?: string): LogKeys {
    this.key ??= generateNoteKey(origin ?? defaultOrigin());
    const signer = NoteSigner.fromKey(this.key.signerKey);
    if (origin !== undefined && origin !== signer.name)
      throw new LogError(
        "invalid",
        `the log's origin is "${signer.name}"; it cannot be changed to "${origin}"`,
      );
    const verifiers = [NoteVerifier.fromKey(this.key.verifierKey)];
    return { origin: signer.name, signer, verifiers, verifierKey: this.key.verifierKey };
  }
}

/** The reads of a MemoryStore, beside whatever writes it. */
export class MemorySource implements LogSource {
  readonly where = "memory";

  constructor(protected readonly store: MemoryStore) {}

  async readCheckpoint(): Promise<Uint8Array | null> {
    return this.store.checkpoint;
  }

  async readTile(tile: Tile): Promise<Uint8Array | null> {
    const exact =
      this.store.tiles.get(tilePath(tile)) ?? this.store.tiles.get(tilePath({ ...tile, width: BUNDLE_SIZE }));
    if (exact !== undefined) return exact.subarray(0, tile.width * 32);
    // A wider partial version holds the same hashes first.
    for (let w = tile.width + 1; w < BUNDLE_SIZE; w++) {
      const wider = this.store.tiles.get(tilePath({ ...tile, width: w }));
      if (wider !== undefined) return wider.subarray(0, tile.width * 32);
    }
    return null;
  }

  async readEntryBundle(index: number, width: number): Promise<EntryBundle | null> {
    const first = index * BUNDLE_SIZE;
    const pruned = this.store.pruned;
    if (pruned !== null && first + BUNDLE_SIZE <= pruned.before) {
      const gone: Gone = { state: "pruned", reason: pruned.reason };
      return { gone };
    }
    if (first + width > this.store.entries.length) return null;
    const lines: Uint8Array[] = [];
    const erased = new Map<number, string>();
    for (let i = 0; i < width; i++) {
      const entry = this.store.entries[first + i];
      const reason = this.store.erased.get(first + i);
      if (reason !== undefined) erased.set(i, reason);
      lines.push(reason !== undefined || !entry ? new Uint8Array(0) : entry);
    }
    // The bytes a file-backed log would serve: one line per entry.
    const data = joinEntries(lines);
    return erased.size > 0 ? { data, erased } : { data };
  }
}

export class MemoryDriver extends MemorySource implements StorageDriver {
  private hooks: DriverHooks | null = null;
  private closed = false;

  constructor(store: MemoryStore) {
    if (store.locked) throw new LogError("locked", "the memory log is already open for writing");
    super(store);
    store.locked = true;
  }

  // ---- recovery ----

  async recover(_trustedSize: number, _newLog: boolean, hooks: DriverHooks): Promise<number> {
    this.hooks = hooks;
    return this.store.entries.length;
  }

  // ---- sequencing ----

  get refusal(): LogError | null {
    return this.closed ? new LogError("closed", "the log is closed") : null;
  }

  async room(): Promise<void> {}

  async writeEntries(
    first: number,
    entries: readonly Uint8Array[],
    joined: Uint8Array,
  ): Promise<PendingEntries> {
    if (first !== this.store.entries.length)
      throw new LogError("io", `entries from ${first} appended to a log of ${this.store.entries.length}`);
    // Copies: the caller's buffers are reused once handed back.
    for (const e of entries) this.store.entries.push(Uint8Array.from(e));
    return {
      sync: () => Promise.resolve(),
      acknowledged: () => this.hooks?.written(first, entries.length, joined),
    };
  }

  get writtenSize(): number {
    return this.store.entries.length;
  }

  async untilWritten(n: number): Promise<void> {
    if (n > this.store.entries.length) throw new LogError("io", `entries before ${n} were never appended`);
  }

  // ---- integration ----

  async writeTiles(tiles: readonly TileData[]): Promise<void> {
    for (const t of tiles) this.store.tiles.set(tilePath(t.tile), Uint8Array.from(t.data));
  }

  async syncTiles(size: number): Promise<void> {
    this.store.tilesDurable = size;
  }

  async readTilesDurable(trustedSize: number): Promise<number | null> {
    return this.store.tilesDurable === null ? null : Math.min(trustedSize, this.store.tilesDurable);
  }

  async publishCheckpoint(_size: number, note: string): Promise<void> {
    this.store.checkpoint = new TextEncoder().encode(note);
  }

  // ---- retention ----

  /** Drops the entries before `before` (a multiple of 256 with durable tiles), reporting them pruned. */
  pruneBundles(before: number, reason: string): void {
    const tiled = this.store.tilesDurable ?? 0;
    if (before % BUNDLE_SIZE !== 0 || before > tiled - (tiled % BUNDLE_SIZE))
      throw new LogError(
        "invalid",
        `cannot prune before ${before}: not the end of a full bundle with durable tiles`,
      );
    for (let i = this.store.pruned?.before ?? 0; i < before; i++) this.store.entries[i] = null;
    this.store.pruned = { before, reason };
  }

  /** Forgets entry `index`'s bytes, reporting it erased; its leaf hash stays in the tiles. */
  erase(index: number, reason: string): void {
    if (index >= (this.store.tilesDurable ?? 0))
      throw new LogError("invalid", `cannot erase entry ${index}: its tiles are not durable yet`);
    this.store.entries[index] = null;
    this.store.erased.set(index, reason);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.locked = false;
  }
}
