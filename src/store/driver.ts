// What a storage driver is: it stores and reads the log's bytes — entries, hash tiles,
// checkpoints — and nothing else. Sequencing, group commit, integration into tiles and
// publishing signed checkpoints are the log core's (log-core.ts), shared by every driver, as
// in Tessera; reading is log-reader.ts's, over a driver's LogSource. Two drivers exist: the
// filesystem (the fs/ folder here, the default) and memory (memory/, for tests and tools).
import type { Tile } from "../tlog/index.js";
import type { EntryBundle, LogError } from "./types.js";
import type { TileData } from "./tile-builder.js";

/**
 * The read half of a log's storage, untrusted as such: whatever it returns is checked against a
 * signed checkpoint by whoever reads it (log-reader.ts, verify). A driver implements it, and so
 * does a client of a tlog-tiles server (verify/http-source.ts).
 */
export interface LogSource {
  /** Where the log is, for messages. */
  readonly where: string;
  /** The latest checkpoint note as stored, or null for a log that never published one. */
  readCheckpoint(): Promise<Uint8Array | null>;
  /**
   * Hash tile `tile`: exactly tile.width × 32 bytes (a wider version of the tile, which holds
   * the same hashes first, is cut to the width), or null when it is not there.
   */
  readTile(tile: Tile): Promise<Uint8Array | null>;
  /** The first `width` entries of bundle `index` (see LogReader.readEntryBundle), or null when missing. */
  readEntryBundle(index: number, width: number): Promise<EntryBundle | null>;
  /**
   * Entries [from, width) of bundle `index`: the same lines as readEntryBundle(index, width)
   * from entry `from` on, with `first` saying where they start (it may start earlier). A source
   * that stores bundles so that some entries cost less to read than the whole (the file system's
   * seekable frames) has this; readers fall back to readEntryBundle.
   */
  readEntrySpan?(index: number, from: number, width: number): Promise<EntryBundle | null>;
  /**
   * Full bundle `index` exactly as stored compressed, or null when it is not stored that way
   * (a driver without compression need not have this). Served as it is to a client that accepts
   * the encoding: it decodes to readEntryBundle(index, 256)'s bytes.
   */
  readEncodedBundle?(index: number): Promise<EncodedBundle | null>;
}

/** Bundle bytes as stored in an HTTP content coding (`zstd`). */
export interface EncodedBundle {
  encoding: string;
  data: Uint8Array;
}

/** What the log core tells a driver at open. */
export interface DriverHooks {
  /**
   * Entries appended at `first` are now readable (readEntryBundle returns them) and the driver
   * is done with `joined`, their bundle lines, which it was lent by writeEntries. Called in
   * log order, once per acknowledged write.
   */
  written(first: number, count: number, joined: Uint8Array): void;
  /** Told about repairs the driver made (bytes cut after a crash, entries restored, files rebuilt). */
  repaired(message: string): void;
  /** Told when background work of the driver fails (it is retried). */
  failed(err: unknown): void;
}

/** Entries a driver has written (see StorageDriver.writeEntries). */
export interface PendingEntries {
  /** Resolves once the entries survive a crash; called once, right after the write. */
  sync(): Promise<void>;
  /**
   * The entries are acknowledged: their sync and every earlier write's succeeded. Called in
   * log order; the driver then makes them readable (hooks.written). Never called for a write
   * whose sync, or an earlier one's, failed.
   */
  acknowledged(): void;
}

export interface StorageDriver extends LogSource {
  /**
   * Brings the stored entries to a consistent state after a crash or a clean close and returns
   * how many there are, all durable. `trustedSize` is the size of the checkpoint the core read
   * and verified (0 for a new log, `newLog` true).
   */
  recover(trustedSize: number, newLog: boolean, hooks: DriverHooks): Promise<number>;

  // ---- sequencing ----

  /** Why the driver takes no entries now (a full disk, a failed sync), or null. */
  readonly refusal: LogError | null;
  /** Resolves when the driver has room for another commit (its write-behind queue drained enough). */
  room(): Promise<void>;
  /**
   * Writes entries [first, first + entries.length) where the returned sync makes them durable.
   * Calls come one at a time in log order, each right after the previous one's entries, but
   * the next may come while an earlier write's sync still runs (the core overlaps them).
   * `joined` holds the entries as bundle lines and is lent to the driver until hooks.written.
   * On failure of the write or of its sync nothing needs undoing: the core writes the same
   * indexes again, once every earlier write has settled.
   */
  writeEntries(first: number, entries: readonly Uint8Array[], joined: Uint8Array): Promise<PendingEntries>;
  /** Entries readable now (hooks.written was called for them). */
  readonly writtenSize: number;
  /** Resolves once `n` entries are readable; rejects while writing them fails. */
  untilWritten(n: number): Promise<void>;

  // ---- integration ----

  /**
   * Stores hash tiles (full and the partial tiles of the tree about to be published). With
   * `durable` they survive a crash when it resolves; otherwise once syncTiles has run.
   */
  writeTiles(tiles: readonly TileData[], opts: { durable: boolean }): Promise<void>;
  /**
   * Makes the full tiles written so far durable if it is time (or `force`), and records that
   * every full tile of the tree of `size` is. Called between publishes, so all of them have
   * been written.
   */
  syncTiles(size: number, force: boolean): Promise<void>;
  /**
   * The size recorded by syncTiles, at most `trustedSize` (the checkpoint's); null when the log
   * has no record (then every tile was durable). A damaged record is repaired, never fatal.
   */
  readTilesDurable(trustedSize: number): Promise<number | null>;
  /**
   * Publishes the signed checkpoint of the tree of `size`: everything a reader of that
   * checkpoint needs (its full bundles at their final place, its partial bundle) is in place
   * before the note is, and the note is durable when it resolves. Idempotent.
   */
  publishCheckpoint(size: number, note: string): Promise<void>;

  /** Makes every written entry durable where it is read from (the write-ahead copy can go). */
  flush(): Promise<void>;
  /** Releases every resource (files, locks, timers), also after a failed open or flush. */
  close(): Promise<void>;
}
