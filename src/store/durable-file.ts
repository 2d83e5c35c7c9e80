// Small durability primitives: a file is only "written" once its bytes and its directory
// entry are both on disk.
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

/** fsyncs a directory so that a create, rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `file` with `data` atomically: readers see the old or the new content, never a
 * mix, and after it resolves the new content survives a crash.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await fsp.open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(dir);
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

const fdatasyncAsync = promisify(fs.fdatasync);

/** fdatasync on a raw descriptor, off the event loop. */
export function fdatasync(fd: number): Promise<void> {
  return fdatasyncAsync(fd);
}

/** Writes all of `data` at the descriptor's position (or the end, under O_APPEND). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length;) off += fs.writeSync(fd, data, off, data.length - off);
}

/**
 * Files replaced together, as cheaply as durability allows: each is written to a temporary
 * name (a page-cache copy), all are synced in parallel, then each is renamed into place and
 * each directory is synced once. Readers never see a partly written file.
 */
export class DurableFileBatch {
  private readonly files: { tmp: string; file: string; fd: number }[] = [];
  private readonly dirs = new Set<string>();

  add(file: string, data: Uint8Array): void {
    const dir = path.dirname(file);
    if (!this.dirs.has(dir)) fs.mkdirSync(dir, { recursive: true });
    this.dirs.add(dir);
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, "w");
    this.files.push({ tmp, file, fd });
    writeAllSync(fd, data);
  }

  async commit(): Promise<void> {
    try {
      await Promise.all(this.files.map((f) => fdatasync(f.fd)));
    } finally {
      for (const f of this.files) fs.closeSync(f.fd);
    }
    for (const f of this.files) fs.renameSync(f.tmp, f.file);
    await Promise.all([...this.dirs].map((d) => fsyncDir(d)));
  }
}
