// Reading the log's files without trusting them: what a verifier reads may have been replaced
// by anything. Only regular files are read (a FIFO would block forever, a symlink to /dev/zero
// never end), opened without blocking, and never beyond a size the format allows.
import { constants, promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { LogError } from "../types.js";

/**
 * `file` opened for reading, with its size, or null when it does not exist. A file that is not
 * a regular file, or is larger than `max` bytes, is a LogError("corrupt") naming it as `what`
 * (and is closed again). The caller closes the handle.
 */
export async function openRegularFile(
  file: string,
  max: number,
  what: string,
): Promise<{ fh: FileHandle; stat: Stats } | null> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new LogError("corrupt", `${what}: not a regular file`);
    if (stat.size > max)
      throw new LogError("corrupt", `${what}: ${stat.size} bytes, more than the ${max} it can be`);
    return { fh, stat };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The bytes of `file`, or null when it does not exist. A file that is not a regular file, or
 * is larger than `max` bytes, is a LogError("corrupt") naming it as `what`, and nothing of it
 * is read. A file cut shorter while it is read gives the bytes it still had.
 */
export async function readRegularFile(file: string, max: number, what: string): Promise<Buffer | null> {
  const opened = await openRegularFile(file, max, what);
  if (opened === null) return null;
  const { fh, stat } = opened;
  try {
    const data = Buffer.allocUnsafe(stat.size);
    let got = 0;
    while (got < data.length) {
      const { bytesRead } = await fh.read(data, got, data.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === data.length ? data : data.subarray(0, got);
  } finally {
    await fh.close();
  }
}
