// One writer per data directory. A second `serve` or `append` on the same directory would
// interleave bundle writes, so the second one is refused while the first is alive; a lock
// left behind by a killed process is taken over.
import { promises as fsp } from "node:fs";
import { LogError } from "./types.js";

export interface DirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Locks held by this process: the pid check alone cannot tell two opens in one process apart. */
const heldHere = new Set<string>();

export async function acquireLock(file: string): Promise<DirLock> {
  if (heldHere.has(file)) throw new LogError("locked", `${file}: the log is already open in this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(file, "wx", 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      heldHere.add(file);
      return {
        release: async () => {
          heldHere.delete(file);
          await fsp.rm(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number((await fsp.readFile(file, "utf8").catch(() => "")).trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new LogError("locked", `${file}: the log is open for writing by process ${pid}`);
      }
      await fsp.rm(file, { force: true });
    }
  }
  throw new LogError("locked", `${file}: could not take the lock`);
}
