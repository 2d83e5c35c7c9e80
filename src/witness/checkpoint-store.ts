// The latest checkpoint per log, kept durably: a witness's memory of what it cosigned (and a
// mirror's pending checkpoints). Nothing may roll a record back, across crashes included:
// a witness that forgot a checkpoint could be made to cosign a fork of it.
//
// On disk (DIR/<name>.journal, DIR/<name>.snapshot): every update is a line in the journal,
// "<crc32 hex> <json>\n", made durable with one fdatasync per group of updates (concurrent
// updates of different logs share it). A group is written from the event loop (a small copy
// into the page cache) and synced on a thread of its own (sync-thread.ts), so that durability
// never waits in libuv's pool behind other requests' signing.
//
// The journal file is zero-filled ahead of use and written in place, never appended to: an
// fdatasync of blocks that already exist has no file size or block allocation to commit, so it
// is a fraction of an append's. Its records therefore end where the data ends, not where the
// file does, and the file can hold older bytes after them. Each line carries the number of its
// group (g, rising by at least one per group written) and how many lines that group has (c);
// the snapshot records the first group number it does not hold (next). The journal is folded into the snapshot (written whole,
// atomically) once it grows, and then written again from its start: the older lines left
// behind have numbers below the snapshot's next and are not records any more. A crash between
// the two leaves records in both, which is harmless because a log's records only grow: on open
// the largest size wins.
//
// On open the records are the lines from the start with a group number at least next and never
// falling, up to the first line that is not one (zeros: the end of what was written; an older
// line; damage). At most one group — the last, written but not yet synced when the process
// died — can be torn, and only it: a line beyond the end numbered above the group that can be
// torn (the last one read when it lacks lines, else the one after it) means damage in the
// middle, and the open stops. Everything after the end is zeroed.
//
// Updates of one log are serialized (update() holds the log's lock from reading the current
// record to making the new one durable), so two requests can never both build on the same
// old state — the race C2SP tlog-witness warns about.
import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import {
  writeFileAtomic,
  readFileIfExists,
  fdatasync,
  fsyncDir,
  writevAllNow,
  writeZerosNow,
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
/** Zero-filled room beyond the compaction size, for the group that crosses it. */
const JOURNAL_SLACK = 1024 * 1024;
/** What dataEnd compares the journal with, a chunk at a time. */
const ZEROS = Buffer.alloc(64 * 1024);

export interface CheckpointStoreOptions {
  /** Told about a repair made on open (a torn last group cut off). */
  onRepair?: (message: string) => void;
  compactBytes?: number;
}

interface Pending {
  key: string;
  record: StoredCheckpoint;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Decoded {
  key: string;
  record: StoredCheckpoint;
  /** The line's group number; null for a line written before groups were numbered. */
  group: number | null;
  /** How many lines its group has (0 for an unnumbered line). */
  lines: number;
}

function encodeRecord(key: string, r: StoredCheckpoint, group: number, lines: number): string {
  const json = JSON.stringify({
    g: group,
    c: lines,
    k: key,
    s: r.size,
    r: encodeBase64(r.rootHash),
    n: r.note,
  });
  // crc32 of the string is that of its UTF-8 bytes: the group is encoded once, whole.
  return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function decodeRecord(value: unknown): Decoded | null {
  if (!isRecord(value)) return null;
  const { g, c, k, s, r, n } = value;
  const rootHash = typeof r === "string" ? decodeBase64(r) : null;
  if (typeof k !== "string" || typeof n !== "string" || !isCount(s)) return null;
  if (g !== undefined && (!isCount(g) || !isCount(c) || c < 1)) return null;
  if (!rootHash || rootHash.length !== 32) return null;
  return {
    key: k,
    record: { size: s, rootHash, note: n },
    group: g ?? null,
    lines: g === undefined ? 0 : (c as number),
  };
}

/** The end of `bytes` after its last byte that is not zero (0 when all are). */
function dataEnd(bytes: Buffer): number {
  let end = bytes.length;
  while (end > 0) {
    const from = Math.max(0, end - ZEROS.length);
    if (!bytes.subarray(from, end).equals(ZEROS.subarray(0, end - from))) {
      while (bytes[end - 1] === 0) end--;
      return end;
    }
    end = from;
  }
  return 0;
}

export class CheckpointStore {
  private readonly records = new Map<string, StoredCheckpoint>();
  private readonly locks = new Map<string, Promise<void>>();
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** Where the next group is written: the end of the journal's records. */
  private journalBytes = 0;
  /** The number of the last group written (or that the snapshot holds up to). */
  private group = 0;
  /** Set when the journal could not be brought back to a clean end after a failed write. */
  private broken: Error | null = null;
  private closed = false;

  private constructor(
    private readonly journalFile: string,
    private readonly snapshotFile: string,
    private readonly fd: number,
    private readonly compactBytes: number,
    private readonly syncThread: SyncThread,
  ) {}

  /**
   * Opens (creating) the store `name` in `dir`: the snapshot, then the journal over it. A torn
   * last group is cut off and reported through `onRepair`.
   */
  static async open(dir: string, name: string, opts: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    const { onRepair } = opts;
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const journalFile = path.join(dir, `${name}.journal`);
    const snapshotFile = path.join(dir, `${name}.snapshot`);
    // Written at chosen offsets: not opened for appending (which would ignore them).
    const fd = await openFd(journalFile, constants.O_RDWR | constants.O_CREAT, 0o600);
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
      await fsyncDir(dir);
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
      this.queue.push({ key, record, resolve, reject });
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
      const at = this.journalBytes;
      // A failed group's number is not used again: what it left is zeroed, but never numbered
      // like a later group.
      const group = ++this.group;
      let text = "";
      for (const p of batch) text += encodeRecord(p.key, p.record, group, batch.length);
      const bytes = Buffer.from(text, "utf8");
      try {
        writevAllNow(this.fd, [bytes], at);
        crashPoint("journal-written");
        await this.syncThread.fdatasync(this.fd);
        crashPoint("journal-synced");
      } catch (err) {
        await this.zeroBack(at, at + bytes.length, err);
        const failure = new WitnessError(
          "io",
          `writing ${this.journalFile} failed: ${(err as Error).message}`,
          { cause: err },
        );
        for (const p of batch) p.reject(failure);
        continue;
      }
      this.journalBytes = at + bytes.length;
      for (const p of batch) {
        this.records.set(p.key, p.record);
        p.resolve();
      }
      if (this.journalBytes >= this.compactBytes) await this.compact().catch(() => undefined);
    }
  }

  /** After a failed write: the journal must end cleanly, or no later record could be trusted. */
  private async zeroBack(from: number, to: number, cause: unknown): Promise<void> {
    try {
      writeZerosNow(this.fd, from, to);
      await fdatasync(this.fd);
    } catch {
      this.broken = cause instanceof Error ? cause : new Error(String(cause));
    }
  }

  /** Writes every record to the snapshot, then starts the journal again from its beginning. */
  private async compact(): Promise<void> {
    const all: Record<string, unknown> = {};
    for (const [key, r] of this.records) all[key] = { s: r.size, r: encodeBase64(r.rootHash), n: r.note };
    await writeFileAtomic(
      this.snapshotFile,
      JSON.stringify({ version: 2, next: this.group + 1, records: all }) + "\n",
      0o600,
      (step) => crashPoint(`snapshot-${step}`),
    );
    this.journalBytes = 0;
    crashPoint("journal-rewound");
  }

  private keep(key: string, record: StoredCheckpoint, where: string): void {
    const current = this.records.get(key);
    if (current && current.size === record.size && !hashesEqual(current.rootHash, record.rootHash)) {
      throw new WitnessError("corrupt", `${where}: two different trees of size ${record.size} for ${key}`);
    }
    // Equal sizes hold the same tree: the later record (a newer cosignature) is kept.
    if (!current || record.size >= current.size) this.records.set(key, record);
  }

  /** The snapshot's records; returns its next group number (0 for a version 1 snapshot). */
  private async loadSnapshot(): Promise<number> {
    const snapshot = await readFileIfExists(this.snapshotFile);
    if (snapshot === null) return 0;
    let doc: unknown;
    try {
      doc = JSON.parse(snapshot.toString("utf8"));
    } catch (err) {
      throw new WitnessError("corrupt", `${this.snapshotFile}: not JSON (${(err as Error).message})`);
    }
    const version = isRecord(doc) ? doc["version"] : undefined;
    const next = version === 1 ? 0 : isRecord(doc) ? doc["next"] : undefined;
    if (!isRecord(doc) || (version !== 1 && version !== 2) || !isCount(next) || !isRecord(doc["records"]))
      throw new WitnessError("corrupt", `${this.snapshotFile}: not a version 1 or 2 snapshot`);
    for (const [key, value] of Object.entries(doc["records"])) {
      const decoded = decodeRecord(isRecord(value) ? { ...value, k: key, g: undefined, c: undefined } : null);
      if (!decoded)
        throw new WitnessError("corrupt", `${this.snapshotFile}: record ${JSON.stringify(key)} is malformed`);
      this.keep(key, decoded.record, this.snapshotFile);
    }
    return next;
  }

  private async load(onRepair?: (message: string) => void): Promise<void> {
    const next = await this.loadSnapshot();
    this.group = Math.max(0, next - 1);
    const journal = await fsp.readFile(this.journalFile);
    const first = this.decodeLine(journal, 0);
    const end =
      first !== null && first.decoded.group === null
        ? this.loadUnnumbered(journal, onRepair)
        : this.loadNumbered(journal, next, onRepair);
    this.journalBytes = end;
    if (first !== null && first.decoded.group === null) {
      // Written before lines were numbered: folded into the snapshot now, then overwritten.
      await this.compact();
    }
    // Nothing after the records but zeros, and room for the journal to grow into in place.
    const size = Math.max(journal.length, this.compactBytes + JOURNAL_SLACK);
    if (dataEnd(journal) > this.journalBytes) writeZerosNow(this.fd, this.journalBytes, journal.length);
    if (journal.length < size) writeZerosNow(this.fd, journal.length, size);
    await fdatasync(this.fd);
  }

  /** Line `at` of the journal, decoded, and where the next one starts; null if it is not a whole valid line. */
  private decodeLine(journal: Buffer, at: number): { decoded: Decoded; next: number } | null {
    const end = journal.indexOf(0x0a, at);
    if (end < 0) return null;
    const bytes = journal.subarray(at, end);
    if (bytes.length < 10 || bytes[8] !== 0x20) return null;
    const body = bytes.subarray(9);
    if (crc32(body).toString(16).padStart(8, "0") !== bytes.subarray(0, 8).toString("latin1")) return null;
    try {
      const decoded = decodeRecord(JSON.parse(body.toString("utf8")));
      return decoded && { decoded, next: end + 1 };
    } catch {
      return null;
    }
  }

  /** The records of a journal of numbered groups (see the file comment); returns where they end. */
  private loadNumbered(journal: Buffer, next: number, onRepair?: (message: string) => void): number {
    let at = 0;
    let line = 0;
    let last = this.group;
    // Lines of group `last` read, of the `lines` it has (a group before `next` counts as whole).
    let seen = 0;
    let lines = 0;
    while (at < journal.length && journal[at] !== 0) {
      const got = this.decodeLine(journal, at);
      const group = got?.decoded.group ?? null;
      if (got === null || group === null || group < next || group < last) break;
      // A group is written whole, at one place: the next one cannot start inside it.
      if (group > last && seen < lines) break;
      if (group > last) seen = 0;
      line++;
      this.keep(got.decoded.key, got.decoded.record, this.journalFile);
      last = group;
      lines = got.decoded.lines;
      seen++;
      at = got.next;
    }
    this.group = Math.max(this.group, last);
    // Beyond the end: zeros, older lines (numbered below next), or what is left of the one
    // group that can be torn — `last` when it ended before its last line, else the one after
    // it. A whole line of a later group means a record before it is damaged.
    const tearable = seen < lines ? last : last + 1;
    let torn = false;
    let older = false;
    const dataEnds = dataEnd(journal);
    for (let from = at; from < dataEnds;) {
      while (journal[from] === 0) from++;
      const got = this.decodeLine(journal, from);
      const group = got?.decoded.group ?? null;
      // (An unnumbered line here: the first of a journal from before numbering is damaged.)
      if (got !== null && (group === null || group > tearable))
        throw new WitnessError(
          "corrupt",
          `${this.journalFile}: line ${line + 1} is damaged (checksum or format)`,
        );
      if (group !== null && group < next) older = true;
      else torn = true;
      const nl = journal.indexOf(0x0a, from);
      if (nl < 0) break;
      from = nl + 1;
    }
    // After a fold the start of an older line can follow the records: that is no tear.
    if (torn && !older)
      onRepair?.(`${this.journalFile}: cut off a torn last group (line ${line + 1} on, never acknowledged)`);
    return at;
  }

  /** The records of a journal written before groups were numbered: a torn last line is cut off. */
  private loadUnnumbered(journal: Buffer, onRepair?: (message: string) => void): number {
    let at = 0;
    let line = 0;
    while (at < journal.length) {
      line++;
      const got = this.decodeLine(journal, at);
      if (got === null || got.decoded.group !== null) {
        const end = journal.indexOf(0x0a, at);
        if (end < 0 || end === journal.length - 1) {
          onRepair?.(`${this.journalFile}: cut off a torn last record (line ${line}, never acknowledged)`);
          break;
        }
        throw new WitnessError(
          "corrupt",
          `${this.journalFile}: line ${line} is damaged (checksum or format)`,
        );
      }
      this.keep(got.decoded.key, got.decoded.record, this.journalFile);
      at = got.next;
    }
    return at;
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
