// The latest checkpoint per log, kept durably: a witness's memory of what it cosigned (and a
// mirror's pending checkpoints). Nothing may roll a record back, across crashes included:
// a witness that forgot a checkpoint could be made to cosign a fork of it.
//
// On disk (DIR/<name>.journal, DIR/<name>.snapshot): every update is a line appended to the
// journal, "<crc32 hex> <json>\n", made durable with one fdatasync per group of updates
// (concurrent updates of different logs share it). A group is written from the event loop (a
// small copy into the page cache) and synced on a thread of its own (sync-thread.ts), so that
// durability never waits in libuv's pool behind other requests' signing. The journal is folded into the snapshot
// (written whole, atomically) once it grows; a crash between the two leaves records in both,
// which is harmless because a log's records only grow: on open the largest size wins. A torn
// last line was never acknowledged and is cut off; damage anywhere else stops the open.
//
// Updates of one log are serialized (update() holds the log's lock from reading the current
// record to making the new one durable), so two requests can never both build on the same
// old state — the race C2SP tlog-witness warns about.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import {
  writeFileAtomic,
  readFileIfExists,
  fdatasync,
  writevAllNow,
  openFd,
  closeFd,
} from "../store/durable-file.js";
import { isRecord } from "../json/record.js";
import { decodeBase64, encodeBase64, type Hash, hashesEqual } from "../tlog/index.js";
import { crashPoint } from "./crash-points.js";
import { WitnessError } from "./errors.js";
import { SyncThread } from "./sync-thread.js";

export interface StoredCheckpoint {
  size: number;
  rootHash: Hash;
  /** The signed note as kept (the log's signatures and, for a witness, its own cosignature). */
  note: string;
}

/** Fold the journal into the snapshot once it is this large (unless told otherwise). */
const COMPACT_BYTES = 4 * 1024 * 1024;

export interface CheckpointStoreOptions {
  /** Told about a repair made on open (a torn last journal record cut off). */
  onRepair?: (message: string) => void;
  compactBytes?: number;
}

interface Pending {
  key: string;
  record: StoredCheckpoint;
  line: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function encodeRecord(key: string, r: StoredCheckpoint): Buffer {
  const json = JSON.stringify({ k: key, s: r.size, r: encodeBase64(r.rootHash), n: r.note });
  // crc32 of the string is that of its UTF-8 bytes: the line is encoded once, whole.
  return Buffer.from(`${crc32(json).toString(16).padStart(8, "0")} ${json}\n`, "utf8");
}

function decodeRecord(value: unknown): { key: string; record: StoredCheckpoint } | null {
  if (!isRecord(value)) return null;
  const { k, s, r, n } = value;
  const rootHash = typeof r === "string" ? decodeBase64(r) : null;
  if (typeof k !== "string" || typeof n !== "string" || !Number.isSafeInteger(s) || (s as number) < 0)
    return null;
  if (!rootHash || rootHash.length !== 32) return null;
  return { key: k, record: { size: s as number, rootHash, note: n } };
}

export class CheckpointStore {
  private readonly records = new Map<string, StoredCheckpoint>();
  private readonly locks = new Map<string, Promise<void>>();
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private journalBytes = 0;
  /** Set when the journal could not be brought back to a clean end after a failed write. */
  private broken: Error | null = null;
  private closed = false;

  private constructor(
    private readonly journalFile: string,
    private readonly snapshotFile: string,
    private fd: number,
    private readonly compactBytes: number,
    private readonly syncThread: SyncThread,
  ) {}

  /**
   * Opens (creating) the store `name` in `dir`: the snapshot, then the journal over it. A torn
   * last journal line is cut off and reported through `onRepair`.
   */
  static async open(dir: string, name: string, opts: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    const { onRepair } = opts;
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const journalFile = path.join(dir, `${name}.journal`);
    const snapshotFile = path.join(dir, `${name}.snapshot`);
    const fd = await openFd(journalFile, "a+");
    const syncThread = new SyncThread();
    const store = new CheckpointStore(
      journalFile,
      snapshotFile,
      fd,
      opts.compactBytes ?? COMPACT_BYTES,
      syncThread,
    );
    try {
      await store.load(onRepair);
    } catch (err) {
      await closeFd(fd);
      await syncThread.close();
      throw err;
    }
    return store;
  }

  get(key: string): StoredCheckpoint | undefined {
    return this.records.get(key);
  }

  keys(): IterableIterator<string> {
    return this.records.keys();
  }

  /**
   * Runs `fn` with the current record of `key` while no other update of that key runs. When
   * `fn` returns a record, it is durable before update resolves; its size must not be smaller
   * than the current one (and equal sizes need equal roots). Updates of other keys run alongside.
   */
  async update<T>(
    key: string,
    fn: (current: StoredCheckpoint | undefined) => Promise<{ record?: StoredCheckpoint; result: T }>,
  ): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = previous.then(() => mine);
    this.locks.set(key, chained);
    await previous;
    try {
      const current = this.records.get(key);
      const { record, result } = await fn(current);
      if (record) {
        if (
          current &&
          (record.size < current.size ||
            (record.size === current.size && !hashesEqual(record.rootHash, current.rootHash)))
        )
          throw new Error(`refusing to roll ${key} back from size ${current.size} to ${record.size}`);
        await this.persist(key, record);
      }
      return result;
    } finally {
      release();
      if (this.locks.get(key) === chained) this.locks.delete(key);
    }
  }

  private persist(key: string, record: StoredCheckpoint): Promise<void> {
    if (this.closed) return Promise.reject(new WitnessError("io", "the checkpoint store is closed"));
    if (this.broken)
      return Promise.reject(
        new WitnessError("io", `the journal is unusable: ${this.broken.message}`, { cause: this.broken }),
      );
    return new Promise((resolve, reject) => {
      this.queue.push({ key, record, line: encodeRecord(key, record), resolve, reject });
      this.flushing ??= this.flushLoop().finally(() => (this.flushing = null));
    });
  }

  /** Writes and syncs everything queued, a group at a time, until the queue is empty. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      if (this.broken) {
        const failure = new WitnessError("io", `the journal is unusable: ${this.broken.message}`, {
          cause: this.broken,
        });
        for (const p of batch) p.reject(failure);
        continue;
      }
      const before = this.journalBytes;
      try {
        // The journal is opened for appending: the group lands at its end, which is `before`.
        writevAllNow(this.fd, [Buffer.concat(batch.map((p) => p.line))], before);
        crashPoint("journal-written");
        await this.syncThread.fdatasync(this.fd);
        crashPoint("journal-synced");
      } catch (err) {
        await this.cutBackTo(before, err);
        const failure = new WitnessError(
          "io",
          `writing ${this.journalFile} failed: ${(err as Error).message}`,
          { cause: err },
        );
        for (const p of batch) p.reject(failure);
        continue;
      }
      this.journalBytes += batch.reduce((n, p) => n + p.line.length, 0);
      for (const p of batch) {
        this.records.set(p.key, p.record);
        p.resolve();
      }
      if (this.journalBytes >= this.compactBytes) await this.compact().catch(() => undefined);
    }
  }

  /** After a failed write: the journal must end cleanly, or no later record could be trusted. */
  private async cutBackTo(length: number, cause: unknown): Promise<void> {
    try {
      await fsp.truncate(this.journalFile, length);
      await fdatasync(this.fd);
    } catch {
      this.broken = cause instanceof Error ? cause : new Error(String(cause));
    }
  }

  /** Writes every record to the snapshot, then empties the journal (see the file comment). */
  private async compact(): Promise<void> {
    const all: Record<string, unknown> = {};
    for (const [key, r] of this.records) all[key] = { s: r.size, r: encodeBase64(r.rootHash), n: r.note };
    await writeFileAtomic(
      this.snapshotFile,
      JSON.stringify({ version: 1, records: all }) + "\n",
      0o600,
      (step) => crashPoint(`snapshot-${step}`),
    );
    await fsp.truncate(this.journalFile, 0);
    await fdatasync(this.fd);
    crashPoint("journal-truncated");
    this.journalBytes = 0;
  }

  private keep(key: string, record: StoredCheckpoint, where: string): void {
    const current = this.records.get(key);
    if (current && current.size === record.size && !hashesEqual(current.rootHash, record.rootHash)) {
      throw new WitnessError("corrupt", `${where}: two different trees of size ${record.size} for ${key}`);
    }
    // Equal sizes hold the same tree: the later record (a newer cosignature) is kept.
    if (!current || record.size >= current.size) this.records.set(key, record);
  }

  private async load(onRepair?: (message: string) => void): Promise<void> {
    const snapshot = await readFileIfExists(this.snapshotFile);
    if (snapshot !== null) {
      let doc: unknown;
      try {
        doc = JSON.parse(snapshot.toString("utf8"));
      } catch (err) {
        throw new WitnessError("corrupt", `${this.snapshotFile}: not JSON (${(err as Error).message})`);
      }
      if (!isRecord(doc) || doc["version"] !== 1 || !isRecord(doc["records"]))
        throw new WitnessError("corrupt", `${this.snapshotFile}: not a version 1 snapshot`);
      for (const [key, value] of Object.entries(doc["records"])) {
        const decoded = decodeRecord(isRecord(value) ? { ...value, k: key } : null);
        if (!decoded)
          throw new WitnessError(
            "corrupt",
            `${this.snapshotFile}: record ${JSON.stringify(key)} is malformed`,
          );
        this.keep(key, decoded.record, this.snapshotFile);
      }
    }
    const journal = await fsp.readFile(this.journalFile);
    let at = 0;
    let line = 0;
    while (at < journal.length) {
      line++;
      const end = journal.indexOf(0x0a, at);
      const decoded = end < 0 ? null : this.decodeLine(journal.subarray(at, end));
      if (decoded === null) {
        if (end < 0 || end === journal.length - 1) {
          // The last line, torn by a crash before its sync: it was never acknowledged.
          await fsp.truncate(this.journalFile, at);
          onRepair?.(`${this.journalFile}: cut off a torn last record (line ${line}, never acknowledged)`);
          break;
        }
        throw new WitnessError(
          "corrupt",
          `${this.journalFile}: line ${line} is damaged (checksum or format)`,
        );
      }
      this.keep(decoded.key, decoded.record, this.journalFile);
      at = end + 1;
    }
    this.journalBytes = Math.min(at, journal.length);
  }

  private decodeLine(bytes: Buffer): { key: string; record: StoredCheckpoint } | null {
    if (bytes.length < 10 || bytes[8] !== 0x20) return null;
    const body = bytes.subarray(9);
    if (crc32(body).toString(16).padStart(8, "0") !== bytes.subarray(0, 8).toString("latin1")) return null;
    try {
      return decodeRecord(JSON.parse(body.toString("utf8")));
    } catch {
      return null;
    }
  }

  /** Waits for queued updates, then closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await closeFd(this.fd);
    await this.syncThread.close();
  }
}
