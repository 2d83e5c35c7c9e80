// What the program is given instead of a data directory path: where the log is stored, where
// this process keeps the state it derives from the log, and the key material. The CLI and
// `serve` compose one (fsStorage, the default, in fs/storage.ts); everything else takes this interface.
import { newVerifier } from "../tlog/index.js";
import type { LogSource } from "./driver.js";
import type { LogOptions } from "./log-core.js";
import { openLogReader } from "./log-reader.js";
import type { AuditLog, LogReader } from "./types.js";

export interface OpenLogOptions extends LogOptions {
  /** Origin line for a new log (ignored, but checked, for an existing one). */
  origin?: string;
}

export interface Storage {
  /** Where the log is, for messages. */
  readonly where: string;
  /**
   * A local directory for what this process derives from the log and can rebuild from it: the
   * query index, the dedupe store, the detector's position, follow positions; also serve's
   * generated tokens and certificate.
   */
  readonly stateDir: string;
  /** Opens the log for writing; one writer at a time (LogError "locked" otherwise). */
  openLog(opts?: OpenLogOptions): Promise<AuditLog>;
  /** The log's stored files, read without the writer's lock and not yet verified. */
  source(): LogSource;
  /** The log's verifier key text (public). Throws LogError("corrupt") for a log that has none. */
  verifierKey(): Promise<string>;
  /** The per-log redaction key (the secret of redaction's HMAC tags), or null when there is none. */
  redactionKey(): Promise<Buffer | null>;
  /** The per-log redaction key, created on first use. */
  loadOrCreateRedactionKey(): Promise<Buffer>;
  /**
   * When the latest checkpoint was stored (ms since the epoch), if the storage keeps that;
   * undefined when it does not or there is none yet. A checkpoint carries no time of its own.
   */
  checkpointWrittenAt?(): number | undefined;
}

/**
 * The log in `storage` as of its latest checkpoint, whose signature is checked against the
 * log's own verifier key: what a command beside a live writer reads.
 */
export async function openSnapshot(storage: Storage): Promise<LogReader> {
  return openLogReader(storage.source(), newVerifier(await storage.verifierKey()));
}
