// Small durability primitives: a file is only "written" once its bytes and its directory
// entry are both on disk.
import fs, { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { LogError } from "./types.js";

/** fsyncs a directory so that a create, rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The steps of writeFileAtomic, in order (for a caller that must observe each, e.g. crash tests). */
export type AtomicWriteStep = "tmp-written" | "tmp-synced" | "renamed" | "dir-synced";

/**
 * Replaces `file` with `data` atomically: readers see the old or the new content, never a
 * mix, and after it resolves the new content survives a crash. `onStep` is told as each step
 * is done.
 */

/**
 * Where an atomic replace of `file` writes first: beside it, hidden, named for this process
 * (`.<name>.<pid>.tmp`, what isLeftoverTemp and the disk report recognise).
 */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  mode = 0o644,
  onStep?: (step: AtomicWriteStep) => void,
): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(file);
  const fh = await fsp.open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    onStep?.("tmp-written");
    await fh.datasync();
    onStep?.("tmp-synced");
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  onStep?.("renamed");
  await fsyncDir(dir);
  onStep?.("dir-synced");
}

/** Reads a file, or returns null when it does not exist (any other error is thrown). */
export async function readFileIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const fdatasyncAsync = promisify(fs.fdatasync);
const writevAsync = promisify(fs.writev);

/**
 * Opens a raw descriptor, off the event loop. The log's own files use raw descriptors, not
 * FileHandles: writes go through fs.writev and fdatasync, and a FileHandle dropped by mistake
 * would be closed when garbage collected.
 */
export function openFd(file: string, flags: string | number, mode?: number): Promise<number> {
  return openAsync(file, flags, mode);
}

export function closeFd(fd: number): Promise<void> {
  return closeAsync(fd);
}

/** fdatasync on a raw descriptor, off the event loop. */
export function fdatasync(fd: number): Promise<void> {
  return fdatasyncAsync(fd);
}

/**
 * Writes all buffers with vectored writes on the thread pool, so the event loop keeps
 * serving while the bytes are copied into the page cache: at `position` when given, else
 * at the descriptor's own position.
 */
export async function writevAll(fd: number, buffers: Uint8Array[], position?: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    // Linux takes at most 1024 buffers per call.
    const batch = rest.slice(0, 1024);
    const written = (await writevAsync(fd, batch, at)).bytesWritten;
    if (written === 0) throw new Error("write made no progress");
    if (at !== undefined) at += written;
    rest = [...unwritten(batch, written), ...rest.slice(batch.length)];
  }
}

/**
 * writevAll in this thread, for at most 1024 buffers at `position`. For a small write into
 * pages already cached the copy is shorter than the wait for a pool thread and back.
 */
export function writevAllNow(fd: number, buffers: Uint8Array[], position: number): void {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const written = fs.writevSync(fd, rest, at);
    if (written === 0) throw new Error("write made no progress");
    at += written;
    rest = unwritten(rest, written);
  }
}

const ZEROS = Buffer.alloc(64 * 1024);

/**
 * Writes zeros over [from, to) of `fd` in this thread (a copy into the page cache): space a file
 * is later written over in place, so that syncing those writes commits no new size or blocks.
 */
export function writeZerosNow(fd: number, from: number, to: number): void {
  for (let at = from; at < to;) {
    // One chunk many times over, at most the 1024 buffers a vectored write takes.
    const buffers: Uint8Array[] = [];
    let end = at;
    while (end < to && buffers.length < 1024) {
      const n = Math.min(ZEROS.length, to - end);
      buffers.push(ZEROS.subarray(0, n));
      end += n;
    }
    writevAllNow(fd, buffers, at);
    at = end;
  }
}

/** What is left of `buffers` after a vectored write took its first `written` bytes. */
export function unwritten(buffers: Uint8Array[], written: number): Uint8Array[] {
  let i = 0;
  let left = written;
  while (i < buffers.length && left >= buffers[i]!.length) left -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(left), ...buffers.slice(i + 1)];
}

/** Like Promise.all, but waits for every promise before throwing the first failure. */
export async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Syncs and other slow calls made in the background run at most this many at a time. libuv
 * has four threads for all file calls; a sync of a hundred bundle files issued at once held
 * them all for tens of milliseconds, and the write-ahead log's write and sync, on which every
 * acknowledgement waits, queued behind it.
 */
export const BACKGROUND_IO_LIMIT = 2;

/**
 * Calls `fn` for each item, at most `limit` at a time, in order. Like settleAll, it waits for
 * every call that started and then throws the first failure (no further calls start after one).
 */
export async function settleEach<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = BACKGROUND_IO_LIMIT,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { reason: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (next < items.length && failure === null) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (reason) {
        failure ??= { reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== null) throw (failure as { reason: unknown }).reason;
  return results;
}

/**
 * Files written together, each at a path whose content never changes once written (hash
 * tiles and partial bundles: the bytes at a path follow from the log). Each is written under a
 * temporary name and renamed into place, so no reader ever sees one part-written: readers
 * holding an older checkpoint fall back to wider versions of a tile (a full tile being written
 * beside the partial they wanted), and a static file server serves whatever is at a path. A
 * file already there (rewritten by recovery after a crash) is replaced the same way, so a crash
 * never leaves it torn. With `sync`, the files and their directories are also made durable
 * before commit() resolves.
 */
export class WriteOnceFileBatch {
  private readonly files: { file: string; data: Uint8Array }[] = [];

  /**
   * `knownDirs`: directories a writer of many batches knows exist (it removes none of them);
   * they are not created again, and the ones this batch creates are added.
   */
  constructor(private readonly knownDirs?: Set<string>) {}

  add(file: string, data: Uint8Array): void {
    this.files.push({ file, data });
  }

  get paths(): string[] {
    return this.files.map((f) => f.file);
  }

  /** Everything runs on the thread pool: creating files waits on the filesystem. */
  async commit(opts: { sync: boolean }): Promise<void> {
    const dirs = [...new Set(this.files.map((f) => path.dirname(f.file)))];
    const missing = this.knownDirs ? dirs.filter((d) => !this.knownDirs!.has(d)) : dirs;
    await Promise.all(missing.map((d) => fsp.mkdir(d, { recursive: true })));
    for (const d of missing) this.knownDirs?.add(d);
    // Created one after another: parallel creates in one directory spin on its lock in the
    // kernel (CPU the writer needs); the syncs, which wait on the disk, run in parallel.
    const handles: FileHandle[] = [];
    try {
      for (const { file, data } of this.files) {
        const fh = await fsp.open(tempPathFor(file), "w");
        handles.push(fh);
        await fh.writeFile(data);
      }
      if (opts.sync) await Promise.all(handles.map((fh) => fh.datasync()));
    } finally {
      await Promise.all(handles.map((fh) => fh.close()));
    }
    for (const { file } of this.files) await fsp.rename(tempPathFor(file), file);
    if (opts.sync) await Promise.all(dirs.map((d) => fsyncDir(d)));
  }
}

/** Makes files written earlier (and their directory entries) durable. */
export async function syncFiles(files: readonly string[]): Promise<void> {
  await settleEach(files, async (file) => {
    const fh = await fsp.open(file, "r");
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  });
  await settleEach([...new Set(files.map((f) => path.dirname(f)))], fsyncDir);
}

/** A count kept in a file of its own (entries-durable, tiles-durable); null when there is no file. */
export async function readCount(file: string): Promise<number | null> {
  const text = (await readFileIfExists(file))?.toString("utf8").trim();
  if (text === undefined) return null;
  if (!/^\d+$/.test(text))
    throw new LogError("corrupt", `${file}: not a count: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(text);
}

/**
 * A count that only grows, kept as text in a file of its own and rewritten in place: cheaper
 * than writeFileAtomic (a new file, its sync, a rename and a directory sync) for a count
 * updated several times a second. The new text is never shorter than the old and lies in
 * the file's first disk sector, whose write is atomic, so a crash leaves either count.
 */
export class GrowingCount {
  private constructor(
    private readonly fd: number,
    private value: number,
  ) {}

  /** Opens the count in `file`, which must exist (written whole, e.g. by writeFileAtomic). */
  static async open(file: string, value: number): Promise<GrowingCount> {
    return new GrowingCount(await openFd(file, "r+"), value);
  }

  get current(): number {
    return this.value;
  }

  async set(value: number): Promise<void> {
    if (value < this.value) throw new Error(`a growing count cannot go from ${this.value} to ${value}`);
    await writevAll(this.fd, [Buffer.from(`${value}\n`)], 0);
    await fdatasync(this.fd);
    this.value = value;
  }

  close(): Promise<void> {
    return closeFd(this.fd);
  }
}
