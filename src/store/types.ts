// The interfaces every writer and reader of the log goes through. The fs driver (fs-log.ts)
// is the embedded default; other drivers implement the same shapes.

import type { HashReader } from "../tlog/index.js";

/** A checkpoint as the log signed it: the tree size, its root and the full signed note. */
export interface SignedCheckpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** The C2SP signed note, exactly as stored in DATA/checkpoint. */
  note: string;
}

export interface LogEntry {
  index: number;
  /** The stored bytes (one JSON object, no trailing newline); the leaf hash is over these. */
  data: Uint8Array;
}

/** The single write path: everything that adds to the log goes through append. */
export interface LogWriter {
  /**
   * Appends entries in order and resolves once they are durable (written and fsynced).
   * Concurrent calls are grouped into one commit. Entries must be non-empty JSON without
   * a newline byte. Rejects with a LogError ("full", "busy", "closed", "io", "invalid").
   *
   * `leafHashes[i]`, when given, must be hashLeaf(entries[i]): a caller that has hashed the
   * entries already (ingest, whose dedupe hash is the leaf hash) spares the log hashing them
   * again. A wrong one is not noticed here; `kubetrail verify`, which re-hashes every entry,
   * would report the log as altered.
   */
  append(entries: Uint8Array[], leafHashes?: readonly Uint8Array[]): Promise<{ firstIndex: number }>;
}

export interface LogReader {
  readonly origin: string;
  /** Number of durable entries (may be ahead of the latest checkpoint by one interval). */
  size(): number;
  latestCheckpoint(): SignedCheckpoint;
  /** Entries [start, end) in order; pruned or erased entries are reported, not skipped. */
  readEntries(start: number, end: number): AsyncIterable<LogEntry>;
  /** Hashes of the integrated tree, for proofs (tlog stored-hash order). */
  hashReader(): HashReader;
}

export interface AuditLog extends LogWriter, LogReader {
  /** Resolves when a signed checkpoint covers at least `size` entries. */
  waitIntegrated(size: number): Promise<SignedCheckpoint>;
  /** Called after each new checkpoint is written; returns an unsubscribe function. */
  onIntegrated(listener: (checkpoint: SignedCheckpoint) => void): () => void;
  close(): Promise<void>;
}

/**
 * "full": the disk is full (retry later, 503); "busy": too much is waiting to be written
 * (back off, 429); "closed": the log is shutting down; "io": another write error;
 * "invalid": the entry itself is unacceptable; "corrupt": the data directory is damaged;
 * "locked": another process has the data directory open for writing.
 */
export type LogErrorCode = "full" | "busy" | "closed" | "io" | "invalid" | "corrupt" | "locked";

export class LogError extends Error {
  constructor(
    readonly code: LogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "LogError";
  }
}

/** A LogError for any failure of a write: a full disk is "full", anything else "io". */
export function toLogError(err: unknown): LogError {
  if (err instanceof LogError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return new LogError("full", "the disk is full");
  return new LogError("io", `write failed: ${(err as Error).message}`);
}
