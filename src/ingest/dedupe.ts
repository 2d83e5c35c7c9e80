// Dedupe by (auditID, stage) → the content's hash, which is the entry's RFC 6962 leaf hash.
// The apiserver re-sends whole batches after any failure, and old log files get re-imported,
// so the memory of what is stored must survive restarts: a store of sorted run files derived
// from the log (rebuildable: it records which log prefix it covers and catches up from the log
// on open; see run-store/), with a small in-memory front for hot retries and a pending table
// for events whose append is still in flight.
import { rmSync } from "node:fs";
import { KUBETRAIL_ANNOTATIONS } from "../audit/types.js";
import { isRecord } from "../json/record.js";
import type { LogReader } from "../store/types.js";
import { hashLeaf, type Hash } from "../tlog/index.js";
import { keyPrint, type KeyPrint } from "./key-hash.js";
import { V1 } from "./normalize.js";
import { RecordTable } from "./record-table.js";
import { STORE_CORRUPT } from "./run-store/corrupt.js";
import { RunStore } from "./run-store/run-store.js";
import { TIER_BASE } from "./run-store/store-writer.js";

/** Hex of the entry's leaf hash, SHA-256(0x00 ‖ bytes). */
export type ContentHash = string;

/**
 * The conflict annotation's value names the content hash, so a rebuild can restore the exact
 * set. Its prefix says which hash: an entry's leaf hash is not SHA-256 of its bytes.
 */
const CONFLICT_PREFIX = "leaf-sha256:";
/**
 * What the store's hashes are, recorded in its manifest: a store of another kind (SHA-256 of
 * the bytes, before the content hash became the leaf hash) is rebuilt from the log.
 */
const HASH_KIND = "rfc6962-leaf";

/**
 * The content hash of an entry: its RFC 6962 leaf hash, the one the log's tree holds for it,
 * so ingest hashes each event once for both (see LogWriter.append's leafHashes).
 */
export function contentHash(bytes: Uint8Array): ContentHash {
  return contentHashOfLeaf(hashLeaf(bytes));
}

/** The content hash of an entry whose leaf hash is `leaf`. */
export function contentHashOfLeaf(leaf: Hash): ContentHash {
  return Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength).toString("hex");
}

export function conflictAnnotationValue(hash: ContentHash): string {
  return CONFLICT_PREFIX + hash;
}

/** The dedupe key of an event: (auditID, stage) as one string, and its fingerprint (computed once). */
export interface DedupeKey extends KeyPrint {
  text: string;
}

export function keyOf(auditID: string, stage: string): DedupeKey {
  const text = `${auditID}\u0000${stage}`;
  const { hi, lo } = keyPrint(text);
  return { text, hi, lo };
}

/** An event stored, for `begin`: its key, and its content hash as hex and as the 32 bytes. */
export interface StoredRecord {
  key: DedupeKey;
  hash: ContentHash;
  leaf: Uint8Array;
}

export type Verdict =
  /** New content for this key: append it (flag it when the key already has other content). */
  | { kind: "store"; conflict: boolean }
  /** Identical content is already durable: drop it. */
  | { kind: "duplicate" }
  /** Identical content is being appended by another request: wait for that append before acking. */
  | { kind: "in-flight"; durable: Promise<void> };

/** Entries of the log the store has caught up with, of how many. */
export type CatchUpProgress = (done: number, total: number) => void;

/** One stored event whose append is in flight. */
interface Pending {
  hash: ContentHash;
  durable: Promise<void>;
}

export interface DedupeRecord {
  auditID: string;
  stage: string;
  hash: ContentHash;
}

/** What a key never recorded has (most keys): one shared list, never added to. */
const NO_HASHES: readonly ContentHash[] = Object.freeze([]);

const FRONT_MAX_KEYS = 65_536;
/** Catch-up tells its progress every this many log entries. */
const CATCH_UP_REPORT = 16_384;
/**
 * Durable records are written to the store as one run per interval (or per this many, the
 * store's smallest size tier), by its writer thread. Fewer, larger runs mean less merging;
 * waiting records cost 40 bytes each (see RecordTable), and a crash leaves at most one interval
 * more of the log for catch-up to read on open.
 */
const FLUSH_INTERVAL_MS = 4_000;
export const FLUSH_MAX_RECORDS = TIER_BASE;
const FLUSH_RETRY_MS = 1_000;

/**
 * Lookups go, in order, through: appends in flight; an LRU of complete hash lists; then the
 * store's runs (each run's Bloom filter answers a new key — the common case — from memory)
 * together with the records durable in the log that the store has not written yet (being
 * flushed, or waiting for the next flush).
 */
export class Deduper {
  /** Recently used keys → every hash recorded for them (LRU by Map insertion order). */
  private readonly front = new Map<string, ContentHash[]>();
  /**
   * Durable in the log, not yet in the store; always consulted, so nothing is missed meanwhile.
   * A flush is due early when it holds FLUSH_MAX_RECORDS.
   */
  private unflushed = new RecordTable();
  /** Handed to the writer and not yet committed by it: consulted like `unflushed`. */
  private flushing = new RecordTable();
  private writing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Map<string, Pending[]>();
  /** Log size when each in-flight append was submitted: its entries land at or after it. */
  private readonly inflight = new Map<number, number>();
  private nextAppendId = 0;
  private coveredSize = 0;
  /** What `covered` may become once the unflushed records are written. */
  private coveredAfterFlush = 0;
  /** Told when writing to the store fails (the records are kept and retried), or merging in it. */
  onFlushError?: (err: unknown) => void;

  private constructor(
    private readonly store: RunStore,
    private readonly log: LogReader,
  ) {
    this.coveredSize = store.covered;
    store.onError = (err) => this.onFlushError?.(err);
  }

  /**
   * Opens (or creates) the dedupe store in directory `dir` and brings it up to date with `log`:
   * afterwards every audit event in the log is known. A store for a different log origin, or
   * a damaged one, is rebuilt; `onRebuild` is told why a damaged one was.
   */
  static async open(
    dir: string,
    log: LogReader,
    onCatchUp?: CatchUpProgress,
    onRebuild?: (reason: string) => void,
  ): Promise<Deduper> {
    const identity = { origin: log.origin, hash: HASH_KIND };
    let store: RunStore;
    try {
      store = await RunStore.open(dir, identity);
    } catch (err) {
      if ((err as { code?: unknown }).code !== STORE_CORRUPT) throw err;
      onRebuild?.((err as Error).message);
      rmSync(dir, { recursive: true, force: true });
      store = await RunStore.open(dir, identity);
    }
    const d = new Deduper(store, log);
    try {
      await d.catchUp(onCatchUp);
      return d;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Log prefix whose audit events are all recorded in the store. */
  covered(): number {
    return this.coveredSize;
  }

  private async writeBatch(records: RecordTable, covered: number): Promise<void> {
    await this.store.write(records, covered);
    this.coveredSize = Math.max(this.coveredSize, covered);
  }

  /** Records the audit events of the log beyond `covered` (those the store lacks after a crash). */
  private async catchUp(onProgress?: CatchUpProgress): Promise<void> {
    const end = this.log.size();
    const start = this.coveredSize;
    const batch = new RecordTable(FLUSH_MAX_RECORDS);
    let reported = false;
    // The worker writes one batch while this thread reads and hashes the next (one in flight
    // at a time, so memory stays bounded).
    let writing: Promise<void> = Promise.resolve();
    for await (const entry of this.log.readEntries(this.coveredSize, end)) {
      // A pruned or erased entry's event cannot be recorded: a repeat of it would be stored again.
      const record = entry.gone === undefined ? recordFromEntry(entry.data) : undefined;
      if (record !== undefined) {
        batch.add(keyOf(record.auditID, record.stage), record.hash);
      }
      if (batch.size >= FLUSH_MAX_RECORDS) {
        await writing;
        writing = this.writeBatch(batch, entry.index + 1);
        writing.catch(() => undefined); // awaited at the next batch or below
        batch.clear(); // the writer has its own copy
      }
      // Told only when there is enough to wait for (a new store over a long log).
      if ((entry.index + 1 - start) % CATCH_UP_REPORT === 0) {
        onProgress?.(entry.index + 1, end);
        reported = true;
      }
    }
    await writing;
    await this.writeBatch(batch, end);
    if (reported) onProgress?.(end, end);
  }

  private committedHashes(key: DedupeKey): readonly ContentHash[] {
    const cached = this.front.get(key.text);
    if (cached !== undefined) {
      this.front.delete(key.text);
      this.front.set(key.text, cached);
      return cached;
    }
    const hashes: ContentHash[] = [];
    this.store.collect(key, hashes);
    this.flushing.collect(key, hashes);
    this.unflushed.collect(key, hashes);
    // A new key (most keys) is not worth a place in the front.
    if (hashes.length === 0) return NO_HASHES;
    // Cached as complete: from here on `record` keeps the list up to date.
    this.front.set(key.text, hashes);
    while (this.front.size > FRONT_MAX_KEYS) this.front.delete(this.front.keys().next().value as string);
    return hashes;
  }

  /**
   * Classifies one event by its key (keyOf). Synchronous on purpose: a batch is classified and its "store" verdicts
   * reserved (see `begin`) within one tick, so concurrent batches cannot both store the same event.
   */
  classify(key: DedupeKey, hash: ContentHash): Verdict {
    let otherContent = false;
    for (const p of this.pending.get(key.text) ?? []) {
      if (p.hash === hash) return { kind: "in-flight", durable: p.durable };
      otherContent = true;
    }
    const committed = this.committedHashes(key);
    if (committed.includes(hash)) return { kind: "duplicate" };
    return { kind: "store", conflict: otherContent || committed.length > 0 };
  }

  /**
   * Reserves `records` as in flight until `durable` settles, then records them (on success) so
   * later repeats are dropped. Call in the same tick as `classify` and the log append.
   */
  begin(records: readonly StoredRecord[], logSizeAtSubmit: number, durable: Promise<unknown>): Promise<void> {
    const appendId = this.nextAppendId++;
    this.inflight.set(appendId, logSizeAtSubmit);
    const settled = durable.then(() => undefined);
    // Swallowed here only to avoid an unhandled rejection; callers await the returned promise.
    settled.catch(() => undefined);
    const mine: [StoredRecord, Pending][] = [];
    for (const r of records) {
      const p: Pending = { hash: r.hash, durable: settled };
      mine.push([r, p]);
      const list = this.pending.get(r.key.text);
      if (list === undefined) this.pending.set(r.key.text, [p]);
      else list.push(p);
    }
    // Leaves the in-flight maps: first the submit point (so `record` computes coverage without
    // this append), then each event's pending entry.
    const release = (): void => {
      this.inflight.delete(appendId);
      for (const [{ key }, p] of mine) {
        const list = this.pending.get(key.text);
        if (list === undefined) continue;
        if (list.length === 1 && list[0] === p) this.pending.delete(key.text);
        else list.splice(list.indexOf(p), 1);
      }
    };
    return settled.then(
      () => {
        release();
        this.record(mine);
      },
      (err: unknown) => {
        release();
        throw err;
      },
    );
  }

  private record(stored: [StoredRecord, Pending][]): void {
    for (const [{ key, hash, leaf }] of stored) {
      // Only lists already cached are extended; an evicted key is looked up again when needed.
      if (this.front.size > 0) {
        const hashes = this.front.get(key.text);
        if (hashes !== undefined && !hashes.includes(hash)) hashes.push(hash);
      }
      this.unflushed.addLeaf(key, leaf);
    }
    // Everything below the oldest in-flight submit point is durable and recorded.
    let covered = Infinity;
    for (const size of this.inflight.values()) covered = Math.min(covered, size);
    this.coveredAfterFlush = Math.max(
      this.coveredAfterFlush,
      Number.isFinite(covered) ? covered : this.log.size(),
    );
    this.scheduleFlush();
  }

  /** Flushes now when enough is waiting, else within FLUSH_INTERVAL_MS; one write at a time. */
  private scheduleFlush(delay = FLUSH_INTERVAL_MS): void {
    if (this.flushTimer !== null || this.writing !== null) return; // already due, or after the write
    if (this.unflushed.size >= FLUSH_MAX_RECORDS) void this.flush();
    else if (this.unflushed.size > 0 || this.coveredAfterFlush > this.coveredSize)
      this.flushTimer = setTimeout(() => void this.flush(), delay).unref();
  }

  /**
   * Hands the recorded keys to the writer (also on a timer), or returns the write under way;
   * the store stays derivable from the log. A failed write (a full disk) must not take the
   * server down or fail a request whose events are durable: the records stay in memory,
   * still consulted, and are retried.
   */
  private flush(): Promise<void> {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.writing !== null) return this.writing;
    if (this.unflushed.size === 0 && this.coveredAfterFlush <= this.coveredSize) return Promise.resolve();
    const covered = Math.max(this.coveredSize, this.coveredAfterFlush);
    // The two tables trade places: `flushing` is empty whenever no write is under way.
    [this.flushing, this.unflushed] = [this.unflushed, this.flushing];
    let delay = FLUSH_INTERVAL_MS;
    this.writing = this.writeBatch(this.flushing, covered)
      .catch((err: unknown) => {
        this.onFlushError?.(err);
        delay = FLUSH_RETRY_MS;
        // Back into `unflushed`, together with what was recorded during the write.
        this.unflushed.addAll(this.flushing);
      })
      .finally(() => {
        this.flushing.clear();
        this.writing = null;
        this.scheduleFlush(delay);
      });
    return this.writing;
  }

  /** Flushes what it can and closes; anything not flushed is re-derived from the log on open. */
  async close(): Promise<void> {
    // The write under way (if any), then what was recorded meanwhile, or once more what failed.
    await this.flush();
    await this.flush();
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    await this.store.close().catch((err: unknown) => this.onFlushError?.(err));
  }
}

/** The dedupe record a stored entry stands for, or undefined when it is not an audit event. */
export function recordFromEntry(data: Uint8Array): DedupeRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const e = parsed;
  if (
    e.kind !== "Event" ||
    e.apiVersion !== V1 ||
    typeof e.auditID !== "string" ||
    typeof e.stage !== "string"
  ) {
    return undefined;
  }
  const annotations = e.annotations as Record<string, unknown> | undefined;
  const flagged = annotations?.[KUBETRAIL_ANNOTATIONS.conflict];
  const hash =
    typeof flagged === "string" && flagged.startsWith(CONFLICT_PREFIX)
      ? flagged.slice(CONFLICT_PREFIX.length)
      : contentHash(data);
  return { auditID: e.auditID, stage: e.stage, hash };
}
