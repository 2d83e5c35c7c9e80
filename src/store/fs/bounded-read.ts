// Reading the log's files without trusting them: what a verifier reads may have been replaced
// by anything. Only regular files are read (a FIFO would block forever, a symlink to /dev/zero
// never end), opened without blocking, and never beyond a size the format allows.
import { constants, promises as fsp } from "node:fs";
import { LogError } from "../types.js";

/**
 * The bytes of `file`, or null when it does not exist. A file that is not a regular file, or
 * is larger than `max` bytes, is a LogError("corrupt") naming it as `what`, and nothing of it
 * is read. A file cut shorter while it is read gives the bytes it still had.
 */
export async function readRegularFile(file: string, max: number, what: string): Promise<Buffer | null> {
  let fh;
  try {
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new LogError("corrupt", `${what}: not a regular file`);
    if (st.size > max)
      throw new LogError("corrupt", `${what}: ${st.size} bytes, more than the ${max} it can be`);
    const data = Buffer.allocUnsafe(st.size);
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
