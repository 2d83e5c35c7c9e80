// Group commit: appends that arrive while a commit is in flight wait and are written
// together by the next one, so one fsync covers many requests. Each caller's promise
// settles only after the commit that holds its entries has settled.
import { LogError } from "./types.js";

interface Pending {
  entries: Uint8Array[];
  /** The entries' leaf hashes, when the caller gave them (see LogWriter.append). */
  leafHashes: readonly Uint8Array[] | undefined;
  bytes: number;
  resolve: (r: { firstIndex: number }) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitLimits {
  /** Bytes that may wait for the disk before new appends are refused with "busy". */
  maxPendingBytes: number;
  /** Upper bound on one commit, so a burst does not become one huge write. */
  maxCommitBytes: number;
  /**
   * Least time between the starts of two commits while appends keep coming, so that the next
   * group has time to fill: fewer, larger commits for small appends that arrive one by one
   * (admission decisions), at the price of up to this much wait. An append arriving after a
   * quiet spell is committed at once. 0: each commit starts as soon as the last one ended.
   */
  minSpacingMs: number;
}

export const DEFAULT_GROUP_COMMIT_LIMITS: GroupCommitLimits = {
  maxPendingBytes: 256 * 1024 * 1024,
  maxCommitBytes: 16 * 1024 * 1024,
  minSpacingMs: 0,
};

/**
 * Serialises commits. `commit` receives the concatenated entries of one group, with their
 * leaf hashes when every append of the group gave them, and returns the log index of the
 * first; it must either make them all durable or throw.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private pendingBytes = 0;
  private running: Promise<void> | null = null;
  private closed = false;
  private lastStart = -Infinity;

  constructor(
    private readonly commit: (
      entries: readonly Uint8Array[],
      leafHashes: readonly Uint8Array[] | undefined,
    ) => Promise<number>,
    private readonly limits: GroupCommitLimits = DEFAULT_GROUP_COMMIT_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes accepted but not yet durable. */
  get backlogBytes(): number {
    return this.pendingBytes;
  }

  submit(
    entries: Uint8Array[],
    bytes: number,
    leafHashes?: readonly Uint8Array[],
  ): Promise<{ firstIndex: number }> {
    if (this.closed) return Promise.reject(new LogError("closed", "the log is closed"));
    if (this.pendingBytes + bytes > this.limits.maxPendingBytes && this.pendingBytes > 0) {
      return Promise.reject(
        new LogError("busy", `write backlog is full (${this.pendingBytes} bytes waiting for the disk)`),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, leafHashes, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.running ??= this.drain();
    });
  }

  /** Refuses new appends and waits until everything accepted has been committed or failed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private async drain(): Promise<void> {
    // Yield once so appends issued in the same tick join the first group.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const wait = this.lastStart + this.limits.minSpacingMs - this.now();
      if (wait > 0 && !this.closed) await new Promise((r) => setTimeout(r, wait));
      this.lastStart = this.now();
      const group = this.takeGroup();
      const entries = joined(group, (p) => p.entries);
      const leafHashes = group.every((p) => p.leafHashes !== undefined)
        ? joined(group, (p) => p.leafHashes!)
        : undefined;
      try {
        let index = await this.commit(entries, leafHashes);
        for (const p of group) {
          p.resolve({ firstIndex: index });
          index += p.entries.length;
        }
      } catch (err) {
        for (const p of group) p.reject(err);
      } finally {
        for (const p of group) this.pendingBytes -= p.bytes;
      }
    }
    this.running = null;
  }

  private takeGroup(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.limits.maxCommitBytes)) {
      bytes += this.queue[n]!.bytes;
      n++;
    }
    return this.queue.splice(0, n);
  }
}

/** One list of what each append of a group holds, in order (the append's own list when alone). */
function joined<T>(group: readonly Pending[], pick: (p: Pending) => readonly T[]): readonly T[] {
  return group.length === 1 ? pick(group[0]!) : group.flatMap(pick);
}
