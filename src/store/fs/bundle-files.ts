// The entry bundle files, as the writer keeps them. Acknowledged entries are queued here and
// written in log order beside the commits (page-cache copies, off the acknowledgement path:
// the write-ahead log already holds them). The files are synced in batches; then full
// bundles are renamed to their tlog-tiles paths, so a full bundle at its final path is
// always complete, and `entries-durable` records how many entries the synced files hold.
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { isRecord } from "../../json/record.js";
import { splitBundle } from "../bundle-format.js";
import {
  closeFd,
  fdatasync,
  fsyncDir,
  GrowingCount,
  openFd,
  readCount,
  readFileIfExists,
  settleAll,
  settleEach,
  writeFileAtomic,
  writevAll,
} from "../durable-file.js";
import { BUNDLE_SIZE, LogError, toLogError } from "../types.js";
import type { FsLayout } from "./layout.js";

interface OpenBundle {
  index: number;
  /** Raw descriptor: writes and syncs go through the thread pool. */
  fd: number;
  /** Entries written to the file. */
  count: number;
  /** Their bytes; anything after this offset belongs to no entry. */
  size: number;
}

interface Queued {
  first: number;
  entries: readonly Uint8Array[];
  /** The entries as bundle lines. */
  joined: Uint8Array;
}

/** Empty bundle files kept ready ahead of the writer (~7 MB of entries at 1.7 KB each). */
const SPARE_BUNDLES = 16;
/** Queued bytes beyond which commits wait for the writer instead of growing memory. */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** After a failed write (a full disk), the queue is tried again this often. */
const RETRY_MS = 500;

export class BundleFiles {
  private written = 0;
  /** entries-durable: how many entries the synced files hold. */
  private synced: GrowingCount | null = null;
  private open: OpenBundle | null = null;
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private draining: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  /** Why queued entries are not being written; `fatal` when only a restart can help. */
  private failure: { error: LogError; fatal: boolean } | null = null;
  /** Files written since the last sync, and whether each was full then. */
  private readonly unsynced = new Map<OpenBundle, boolean>();
  /** Directories whose new entries (bundle files, subdirectories) the next sync makes durable. */
  private readonly unsyncedDirs = new Set<string>();
  private syncing: Promise<number> | null = null;
  private readonly knownDirs = new Set<string>();
  /** Empty bundle files prepared ahead of the writer, by bundle index. */
  private readonly spares = new Map<number, Promise<number>>();
  /** The lowest bundle index for which no file was created or prepared yet. */
  private nextFresh = 0;
  private closed = false;

  /**
   * `onWritten` is told about each queued batch once it is in the files (in log order);
   * `onSealed` about full bundles once they are synced at their final paths.
   */
  constructor(
    private readonly layout: FsLayout,
    private readonly onWritten: (first: number, count: number, joined: Uint8Array) => void,
    private readonly onSealed: (indexes: number[]) => void = () => undefined,
  ) {}

  /** Entries in the files, synced or not. */
  get size(): number {
    return this.written;
  }

  /** Null, or why the files take no entries now (the log refuses appends meanwhile). */
  get error(): LogError | null {
    return this.failure?.error ?? null;
  }

  // ---- recovery ----

  /**
   * Finds how many entries the files hold and reopens the open bundle. Lines after the
   * count in entries-durable may be anything a power loss left and are cut (the
   * write-ahead log restores every acknowledged one). A log without that file predates the
   * write-ahead log and synced its bundles with every commit: there every complete line
   * counts and only a torn tail is cut. `hint` is a size the files are known to reach.
   */
  async recover(hint: number, newLog: boolean, onRepair?: (message: string) => void): Promise<void> {
    const recorded = await readCount(this.layout.entriesDurable);
    const synced = recorded ?? (newLog ? 0 : null);
    const trusted = synced ?? Infinity;
    let index = Math.floor(Math.min(hint, trusted) / BUNDLE_SIZE);
    for (; ; index++) {
      // Full bundles were synced before they were renamed into place (and compressed after).
      if (
        (await fileExists(this.layout.bundle(index))) ||
        (await fileExists(this.layout.compressedBundle(index)))
      )
        continue;
      const file = this.layout.openBundle(index);
      const data = await readFileIfExists(file);
      if (data === null) break;
      const { count, size } = validPrefix(
        data,
        Math.max(0, Math.min(BUNDLE_SIZE, trusted - index * BUNDLE_SIZE)),
      );
      if (count === BUNDLE_SIZE) {
        // Synced, but the rename was lost in a crash: finish it.
        if (size < data.length) await fsp.truncate(file, size);
        await fsp.rename(file, this.layout.bundle(index));
        await fsyncDir(path.dirname(file));
        this.onSealed([index]);
        continue;
      }
      // O_APPEND: every write lands at the end, also after a rollback truncated the file.
      const fd = fs.openSync(file, "a");
      if (size < data.length) {
        fs.ftruncateSync(fd, size);
        onRepair?.(`cut ${data.length - size} bytes after the last synced entry of ${file}`);
      }
      this.open = { index, fd, count, size };
      this.unsynced.set(this.open, false);
      break;
    }
    this.written = index * BUNDLE_SIZE + (this.open?.count ?? 0);
    if (synced !== null && this.written < synced) {
      throw new LogError(
        "corrupt",
        `the entry bundles hold ${this.written} entries, but ${synced} were synced: entries are missing`,
      );
    }
    // A new log starts at 0; an old one synced everything its files hold.
    const count = synced ?? this.written;
    if (recorded === null) await writeFileAtomic(this.layout.entriesDurable, `${count}\n`);
    this.synced = await GrowingCount.open(this.layout.entriesDurable, count);
    this.prepareSpares(this.open ? this.open.index + 1 : this.written / BUNDLE_SIZE);
  }

  // ---- writing ----

  /** Writes entries at the end of the files now, rolling back and throwing on failure. */
  async write(first: number, entries: readonly Uint8Array[], joined: Uint8Array): Promise<void> {
    if (first !== this.written) {
      throw new LogError("io", `entries from ${first} written to bundles holding ${this.written}`);
    }
    const before = this.open ? { count: this.open.count, size: this.open.size } : null;
    const files: OpenBundle[] = [];
    try {
      await this.writeFiles(first, entries, joined, files);
    } catch (err) {
      await this.rollback(before, files);
      throw toLogError(err);
    }
    for (const f of files) this.unsynced.set(f, f.count === BUNDLE_SIZE);
    this.written += entries.length;
  }

  /** Queues acknowledged entries, to be written after everything queued before them. */
  enqueue(first: number, entries: readonly Uint8Array[], joined: Uint8Array): void {
    this.queue.push({ first, entries, joined });
    this.queuedBytes += joined.length;
    this.draining ??= this.drain();
  }

  /** Resolves when the queue has room again; rejects while writing fails. */
  async room(): Promise<void> {
    while (this.queuedBytes > MAX_QUEUED_BYTES) {
      if (!this.draining) throw this.error ?? new LogError("io", "the bundle writer stopped");
      await this.draining;
    }
  }

  /** Resolves once the files hold `n` entries; rejects while writing them fails. */
  async untilWritten(n: number): Promise<void> {
    while (this.written < n) {
      if (!this.draining) throw this.error ?? new LogError("io", `entries before ${n} were never queued`);
      await this.draining;
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      try {
        await this.write(next.first, next.entries, next.joined);
      } catch (err) {
        // Kept in the queue (and in the write-ahead log): tried again until the disk has room,
        // unless the rollback failed too (then only a restart helps).
        if (!this.failure?.fatal) {
          this.failure = { error: toLogError(err), fatal: false };
          this.retry = setTimeout(() => {
            this.retry = null;
            if (this.queue.length > 0) this.draining ??= this.drain();
          }, RETRY_MS);
          this.retry.unref();
        }
        break;
      }
      this.queue.shift();
      this.queuedBytes -= next.joined.length;
      if (!this.failure?.fatal) this.failure = null;
      this.onWritten(next.first, next.entries.length, next.joined);
    }
    // Cleared here, in the same turn as the loop's last check, so a later enqueue starts a new drain.
    this.draining = null;
  }

  /**
   * Appends entries (their lines are `joined`), the first being log index `first`, to the
   * files, creating them as needed; every file written to is added to `files`.
   */
  private async writeFiles(
    first: number,
    entries: readonly Uint8Array[],
    joined: Uint8Array,
    files: OpenBundle[],
  ): Promise<void> {
    const writes: Promise<void>[] = [];
    try {
      for (let i = 0, offset = 0, next = first; i < entries.length;) {
        const open = this.open ?? (await this.createBundle(next / BUNDLE_SIZE));
        this.open = open;
        files.push(open);
        const count = Math.min(entries.length - i, BUNDLE_SIZE - open.count);
        let bytes = 0;
        for (let k = i; k < i + count; k++) bytes += entries[k]!.length + 1;
        const write = writevAll(open.fd, [joined.subarray(offset, offset + bytes)]);
        // Observed below; until then (creating the next file) a failure must not count as
        // an unhandled rejection.
        write.catch(() => undefined);
        writes.push(write);
        open.count += count;
        open.size += bytes;
        if (open.count === BUNDLE_SIZE) this.open = null;
        i += count;
        offset += bytes;
        next += count;
      }
    } finally {
      // Every write has finished before the caller goes on (or rolls back).
      await settleAll(writes);
    }
  }

  /**
   * After a failed write the files may hold bytes of no entry: cut the bundle that was open
   * back to its size before and drop the bundles this write created. If even that fails,
   * only a restart helps (recovery decides from the disk and the write-ahead log).
   */
  private async rollback(before: { count: number; size: number } | null, files: OpenBundle[]): Promise<void> {
    try {
      this.open = null;
      for (const [i, f] of files.entries()) {
        if (i === 0 && before) {
          fs.ftruncateSync(f.fd, before.size);
          Object.assign(f, before);
          this.open = f;
        } else {
          fs.closeSync(f.fd);
          await fsp.rm(this.layout.openBundle(f.index), { force: true });
        }
      }
    } catch (err) {
      this.fail(`cannot roll back a failed bundle write: ${(err as Error).message}`, err);
    }
  }

  /** Stops the files taking entries until a restart; the first such reason is kept. */
  private fail(message: string, cause: unknown): LogError {
    const failure = this.failure?.fatal
      ? this.failure
      : {
          error: new LogError("io", `${message}; restart (the write-ahead log holds the entries)`, { cause }),
          fatal: true,
        };
    this.failure = failure;
    return failure.error;
  }

  /**
   * An empty file for bundle `index`: a spare prepared in the background when there is one,
   * else created here. Its directory entry is made durable by the next sync.
   */
  private async createBundle(index: number): Promise<OpenBundle> {
    const file = this.layout.openBundle(index);
    this.unsyncedDirs.add(path.dirname(file));
    const spare = this.spares.get(index);
    this.spares.delete(index);
    this.prepareSpares(index + 1);
    const fd = spare ? await spare.catch(() => null) : null;
    if (fd !== null) return { index, fd, count: 0, size: 0 };
    this.nextFresh = Math.max(this.nextFresh, index + 1);
    await this.mkdirOnce(path.dirname(file));
    return { index, fd: await openEmpty(file), count: 0, size: 0 };
  }

  /**
   * Keeps SPARE_BUNDLES empty bundle files ahead of bundle `next`. Creating a file can take
   * milliseconds (the filesystem's inode allocator), which the writer should not wait for;
   * they are made one after another, as parallel creates in one directory contend.
   */
  private prepareSpares(next: number): void {
    if (this.spares.size > SPARE_BUNDLES / 2 || this.closed) return;
    const indexes: number[] = [];
    for (let index = Math.max(this.nextFresh, next); index < next + SPARE_BUNDLES; index++)
      indexes.push(index);
    if (indexes.length === 0) return;
    this.nextFresh = indexes[indexes.length - 1]! + 1;
    let previous: Promise<unknown> = Promise.resolve();
    for (const index of indexes) {
      const file = this.layout.openBundle(index);
      const spare = previous.then(async () => {
        await this.mkdirOnce(path.dirname(file));
        return openEmpty(file);
      });
      spare.catch(() => undefined); // a failed spare is replaced by createBundle's own path
      this.spares.set(index, spare);
      previous = spare.catch(() => undefined);
    }
  }

  private async mkdirOnce(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const created = await fsp.mkdir(dir, { recursive: true });
    // Each new directory is an entry in its parent, made durable by the next sync.
    if (created !== undefined) {
      for (let d = dir; d !== path.dirname(created); d = path.dirname(d))
        this.unsyncedDirs.add(path.dirname(d));
    }
    this.knownDirs.add(dir);
  }

  // ---- syncing ----

  /**
   * Makes every entry written so far durable in the files: syncs them, moves full ones to
   * their final paths, syncs the directories and records the count in entries-durable.
   * Resolves to that count. A sync already under way may have started before the latest
   * writes: then another one follows it.
   */
  async sync(): Promise<number> {
    const target = this.written;
    for (;;) {
      this.syncing ??= this.syncOnce();
      const count = await this.syncing;
      if (count >= target) return count;
    }
  }

  private async syncOnce(): Promise<number> {
    try {
      return await this.syncFiles();
    } finally {
      this.syncing = null;
    }
  }

  private async syncFiles(): Promise<number> {
    if (this.failure?.fatal) throw this.failure.error;
    const synced = this.synced;
    if (!synced) throw new LogError("closed", "the bundle files are not open");
    // Files are listed once their entries are written, so they hold at least `upTo`
    // entries, and one listed as full is full.
    const upTo = this.written;
    if (upTo === synced.current) return upTo;
    const files = [...this.unsynced];
    const dirs = new Set(this.unsyncedDirs);
    this.unsynced.clear();
    this.unsyncedDirs.clear();
    try {
      await settleEach(files, ([f]) => fdatasync(f.fd));
    } catch (err) {
      // After a failed fsync the kernel may have dropped the pages it could not write, so a
      // later sync could "succeed" without them: only recovery from the write-ahead log is safe.
      throw this.fail(`cannot sync entry bundles: ${(err as Error).message}`, err);
    }
    const moved = new Set<OpenBundle>();
    try {
      for (const [f, full] of files) {
        if (!full) continue;
        await fsp.rename(this.layout.openBundle(f.index), this.layout.bundle(f.index));
        moved.add(f);
        dirs.add(path.dirname(this.layout.bundle(f.index)));
        await closeFd(f.fd);
      }
      await settleEach([...dirs], fsyncDir);
      await synced.set(upTo);
      if (moved.size > 0) this.onSealed([...moved].map((f) => f.index));
    } catch (err) {
      // Nothing is lost (the write-ahead log keeps the entries): the next sync tries again.
      for (const [f, full] of files) if (!moved.has(f) && !this.unsynced.has(f)) this.unsynced.set(f, full);
      for (const dir of dirs) this.unsyncedDirs.add(dir);
      throw toLogError(err);
    }
    return upTo;
  }

  /** The count in entries-durable, as last written. */
  get syncedSize(): number {
    return this.synced?.current ?? 0;
  }

  /**
   * Closes every file (queued entries not yet written stay in the write-ahead log) and removes
   * the unused spares: empty files an operator would otherwise find beside the bundles.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.draining;
    await this.syncing?.catch(() => undefined);
    for (const [index, spare] of this.spares) {
      const fd = await spare.catch(() => null);
      if (fd !== null) fs.closeSync(fd);
      fs.rmSync(this.layout.openBundle(index), { force: true });
    }
    this.spares.clear();
    const fds = new Set([...this.unsynced].filter(([, full]) => full).map(([f]) => f.fd));
    if (this.open) fds.add(this.open.fd);
    for (const fd of fds) fs.closeSync(fd);
    this.unsynced.clear();
    this.open = null;
    await this.synced?.close();
    this.synced = null;
  }
}

/**
 * Opens a bundle file empty, O_APPEND so writes land at the end also after a rollback
 * truncated it (a leftover from a failed write or an unused spare holds no entry).
 */
async function openEmpty(file: string): Promise<number> {
  const fd = await openFd(file, "a");
  await ftruncateAsync(fd, 0);
  return fd;
}

const ftruncateAsync = promisify(fs.ftruncate);

/** The longest prefix of at most `maxLines` lines of an open bundle, each complete and a JSON object. */
function validPrefix(data: Buffer, maxLines: number): { count: number; size: number } {
  let count = 0;
  let size = 0;
  let lines: Uint8Array[];
  try {
    lines = splitBundle(data.subarray(0, data.lastIndexOf(0x0a) + 1));
  } catch {
    lines = [];
  }
  for (const line of lines) {
    if (count === maxLines || !isJsonObject(line)) break;
    count++;
    size += line.length + 1;
  }
  return { count, size };
}

function isJsonObject(line: Uint8Array): boolean {
  try {
    const v: unknown = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.length).toString("utf8"));
    return isRecord(v);
  } catch {
    return false;
  }
}

async function fileExists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}
