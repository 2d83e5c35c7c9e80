// The interfaces every writer and reader of the log goes through, whatever stores it. The log
// core (log-core.ts) implements AuditLog over a storage driver (driver.ts); log-reader.ts
// implements LogReader over any driver's reads, or over a tlog-tiles server.

import { CodedError } from "../errors.js";
import type { HashReader, Tile } from "../tlog/index.js";
import type { EncodedBundle } from "./driver.js";

/** A checkpoint as the log signed it: the tree size, its root and the full signed note. */
export interface SignedCheckpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** The C2SP signed note, exactly as published. */
  note: string;
}

/**
 * Why an entry's bytes are no longer in the log while its leaf hash still is (in the tiles):
 * retention removed its bundle ("pruned") or it was erased on its own ("erased"). Not the
 * same as missing or damaged, which are errors.
 */
export interface Gone {
  state: "pruned" | "erased";
  /** What the operator recorded (a retention policy, an erasure request). */
  reason: string;
}

/** One entry as read: its bytes, or why they are gone. */
export type LogEntry =
  | {
      index: number;
      /** The stored bytes (one JSON object, no trailing newline); the leaf hash is over these. */
      data: Uint8Array;
      gone?: undefined;
    }
  | { index: number; data?: undefined; gone: Gone };

/**
 * The first `width` entries of an entry bundle as read: bundle bytes (one line per entry, as
 * published under tile/entries/), or the whole bundle gone. Inside `data` an erased entry is an
 * empty line (no stored entry is empty); `erased` gives the reason for each such line, by its
 * place in the bundle. `first` > 0 when `data` starts at that entry of the bundle rather than
 * its first (a read of some entries: LogSource.readEntrySpan).
 */
export type EntryBundle =
  | { data: Uint8Array; erased?: ReadonlyMap<number, string>; first?: number; gone?: undefined }
  | { data?: undefined; gone: Gone };

/** The single write path: everything that adds to the log goes through append. */
export interface LogWriter {
  /**
   * Appends entries in order and resolves once they are durable. Concurrent calls are grouped
   * into one commit. Entries must be non-empty JSON without a newline byte (tombstones aside, see
   * AppendOptions), at most MAX_ENTRY_BYTES each. Rejects with a LogError ("full", "busy",
   * "closed", "io", "invalid").
   *
   * `leafHashes[i]`, when given, must be hashLeaf(entries[i]): a caller that has hashed the
   * entries already (ingest, whose dedupe hash is the leaf hash) spares the log hashing them
   * again. A wrong one is not noticed here; `kubetrail verify`, which re-hashes every entry,
   * would report the log as altered.
   */
  append(
    entries: Uint8Array[],
    leafHashes?: readonly Uint8Array[],
    opts?: AppendOptions,
  ): Promise<{ firstIndex: number }>;
}

export interface AppendOptions {
  /**
   * Accept empty entries whose leaf hash is given: tombstones, the place of an entry erasure
   * or retention removed from the log being copied (restore), with the leaf hash that log
   * published. Nothing else ever stores an empty entry.
   */
  tombstones?: boolean;
}

/**
 * Reading the log: the one way anything reads it (routes, queries, verify, export, rebuilds of
 * derived state). Everything is as of one signed checkpoint (the latest, for a live log).
 */
export interface LogReader {
  readonly origin: string;
  /** Number of entries readable (a live log's durable entries may be ahead of its checkpoint). */
  size(): number;
  latestCheckpoint(): SignedCheckpoint;
  /**
   * The hash tile `tile` (its first tile.width hashes, exactly), or null when it is not there.
   * Tiles beyond the latest checkpoint are not served.
   */
  readTile(tile: Tile): Promise<Uint8Array | null>;
  /**
   * The first `width` entries of bundle `index`, or null when the bundle is missing (damage,
   * not retention). A full bundle (width 256) comes as stored, even if damaged: a verifier must
   * see a deleted or inserted line.
   */
  readEntryBundle(index: number, width: number): Promise<EntryBundle | null>;
  /**
   * Full bundle `index` as the storage keeps it compressed, or null (not stored compressed,
   * not there, or beyond the checkpoint): for serving the stored bytes as they are to a client
   * that accepts their encoding. They decode to readEntryBundle(index, 256)'s bytes.
   */
  readEncodedBundle(index: number): Promise<EncodedBundle | null>;
  /**
   * Entries [start, end) in order; pruned or erased entries are reported (LogEntry.gone), not
   * skipped. A missing or damaged bundle is a LogError("corrupt").
   */
  readEntries(start: number, end: number): AsyncIterable<LogEntry>;
  /** Hashes of the tree of the latest checkpoint, for proofs (tlog stored-hash order). */
  hashReader(): HashReader;
}

export interface AuditLog extends LogWriter, LogReader {
  /** The verifier key text (`name+hash+base64`) of the log's signing key, for auditors to pin. */
  readonly verifierKey: string;
  /** Resolves when a signed checkpoint covers at least `size` entries. */
  waitIntegrated(size: number): Promise<SignedCheckpoint>;
  /** Called after each new checkpoint is published; returns an unsubscribe function. */
  onIntegrated(listener: (checkpoint: SignedCheckpoint) => void): () => void;
  /** How long new entries wait for the round that signs a checkpoint covering them, at most, when idle. */
  readonly integrateIntervalMs: number;
  /** Bytes accepted by append but not yet durable. */
  backlogBytes(): number;
  /**
   * Milliseconds the log has waited for cosigners since it opened, the wait under way included:
   * time acknowledged entries spent waiting for a checkpoint on other processes (witnesses,
   * mirrors), not on this one's work.
   */
  cosignerWaitMs(): number;
  close(): Promise<void>;
}

/** The largest entry the log stores (a Kubernetes audit event with request and response bodies stays far below). */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Entries per entry bundle (and hashes per hash tile): C2SP tlog-tiles' 256. */
export const BUNDLE_SIZE = 256;
/** The largest entry bundle a reader accepts: 256 of the largest entries, each with its newline. */
export const MAX_BUNDLE_BYTES = BUNDLE_SIZE * (MAX_ENTRY_BYTES + 1);
/** The largest checkpoint note a reader accepts (the log's signature and up to 99 cosignatures fit many times over). */
export const MAX_CHECKPOINT_BYTES = 1024 * 1024;

/**
 * "full": the disk is full (retry later, 503); "busy": too much is waiting to be written
 * (back off, 429); "closed": the log is shutting down; "io": another storage error;
 * "invalid": the entry or request itself is unacceptable; "corrupt": stored data is damaged
 * or missing; "locked": another process has the log open for writing.
 */
export type LogErrorCode = "full" | "busy" | "closed" | "io" | "invalid" | "corrupt" | "locked";

/** Every error of the log and its drivers: a `code` to branch on, the underlying error as `cause`. */
export class LogError extends CodedError<LogErrorCode> {}

/** A LogError for any failure of a write: a full disk is "full", anything else "io". */
export function toLogError(err: unknown): LogError {
  if (err instanceof LogError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return new LogError("full", "the disk is full", { cause: err });
  return new LogError("io", `write failed: ${(err as Error).message}`, { cause: err });
}
