// Baseline: what the apiserver's own log backend gives you — JSON lines appended to a file and
// fsynced, with no integrity at all. Commits are grouped by the same GroupCommitter kubetrail's
// fs log uses, so both systems see the same group sizes for the same concurrency.
import { open, type FileHandle } from "node:fs/promises";
import { joinEntries } from "../../src/store/bundle-format.js";
import { GroupCommitter } from "../../src/store/group-commit.js";

export class JsonlWriter {
  private count = 0;
  private readonly committer: GroupCommitter;

  private constructor(private readonly fh: FileHandle) {
    this.committer = new GroupCommitter(async (entries) => {
      const first = this.count;
      await writeAll(this.fh, joinEntries(entries));
      await this.fh.datasync();
      this.count += entries.length;
      return first;
    });
  }

  /** Opens `file` for appending (creating it). */
  static async open(file: string): Promise<JsonlWriter> {
    return new JsonlWriter(await open(file, "a"));
  }

  /** Resolves once the lines are written and fdatasync'ed. */
  append(entries: Uint8Array[]): Promise<{ firstIndex: number }> {
    let bytes = 0;
    for (const e of entries) bytes += e.length + 1;
    return this.committer.submit(entries, bytes);
  }

  size(): number {
    return this.count;
  }

  async close(): Promise<void> {
    await this.committer.close();
    await this.fh.close();
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}
