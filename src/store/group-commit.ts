// Group commit: appends that arrive while a commit is in flight wait and are written
// together by the next one, so one fsync covers many requests. Each caller's promise
// settles only after the commit that holds its entries has settled.
//
// A committer given a two-step commit (write, then sync) overlaps them when a sync is late:
// once it has run twice as long as syncs usually take, the group gathered meanwhile is written
// beside it and its own sync started at once. An append that arrives during a slow sync then
// waits for one sync, not for the end of that one and then all of its own; an on-time sync
// still gathers the next group, so busy writers keep their large groups. Groups are still
// acknowledged strictly in order, each only once its own sync and every earlier group's have
// succeeded; when a sync fails, that group and every group written after it fail, and nothing
// more is written until they have all settled and the writer has rewound to the last
// acknowledged entry.
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
 * Commits one group in one step: returns the log index of its first entry once all of them
 * are durable, or throws having made none of them durable.
 */
export type Commit = (
  entries: readonly Uint8Array[],
  leafHashes: readonly Uint8Array[] | undefined,
) => Promise<number>;

/** A group written but not yet known to be durable (see SplitCommit). */
export interface WrittenGroup {
  /** The log index of the group's first entry. */
  readonly first: number;
  /** Resolves once the group's entries are durable; started as soon as the write returns. */
  sync(): Promise<void>;
  /** The group and every group before it are durable: called in log order. */
  acknowledge(): void;
  /** The group will never be acknowledged (its sync or an earlier group's failed). */
  abandon(): void;
}

/** A commit in two steps, so that one group's sync can overlap the next group's write. */
export interface SplitCommit {
  /**
   * Writes the group after every group written before it (acknowledged or not); called one at
   * a time. A failed write has written nothing that needs undoing.
   */
  write(entries: readonly Uint8Array[], leafHashes: readonly Uint8Array[] | undefined): Promise<WrittenGroup>;
  /**
   * A sync failed: every group written since the last acknowledged one has been abandoned, and
   * the next write goes right after the last acknowledged group.
   */
  rewind(): void;
}

/** Groups whose syncs may run at once: one syncing while the next is written and syncs. */
const MAX_UNACKNOWLEDGED = 2;
/**
 * A sync is late once it has run this many times the usual (a moving average): only then is
 * the next group written beside it. Overlapping every sync would split the groups that
 * gather during an on-time sync into more, smaller commits, each with its own fdatasync.
 */
const LATE_FACTOR = 2;

/**
 * Serialises commits. A `Commit` (one step) commits one group at a time; a `SplitCommit`
 * overlaps each group's sync with the next group's write (see the file comment). Either way
 * the groups' entries are concatenated, with their leaf hashes when every append of the group
 * gave them.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private pendingBytes = 0;
  private running: Promise<void> | null = null;
  private closed = false;
  private lastStart = -Infinity;
  private readonly split: SplitCommit;
  /**
   * Groups written and not yet settled, oldest first: when each one's sync started, and a
   * promise that settles (never rejecting) once the group is.
   */
  private unacknowledged: { started: number; done: Promise<void> }[] = [];
  /** Settles with the error that failed the last group written, or null once it is acknowledged. */
  private tail: Promise<unknown> = Promise.resolve(null);
  /** A group failed: rewind before writing the next. */
  private failed = false;
  /** Moving average of how long a sync takes (ms). */
  private usualSyncMs = 0;

  constructor(
    commit: Commit | SplitCommit,
    private readonly limits: GroupCommitLimits = DEFAULT_GROUP_COMMIT_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.split = typeof commit === "function" ? oneStep(commit) : commit;
  }

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
    await this.allSettled();
  }

  private async drain(): Promise<void> {
    // Yield once so appends issued in the same tick join the first group.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const wait = this.lastStart + this.limits.minSpacingMs - this.now();
      if (wait > 0 && !this.closed) await new Promise((r) => setTimeout(r, wait));
      await this.untilOverlapAllowed();
      if (this.failed) {
        // Groups written after the failed one fail too; once they have, write where it began.
        await this.allSettled();
        this.split.rewind();
        this.failed = false;
        this.tail = Promise.resolve(null);
      }
      this.lastStart = this.now();
      const group = this.takeGroup();
      const entries = joined(group, (p) => p.entries);
      const leafHashes = group.every((p) => p.leafHashes !== undefined)
        ? joined(group, (p) => p.leafHashes!)
        : undefined;
      let written: WrittenGroup;
      try {
        written = await this.split.write(entries, leafHashes);
      } catch (err) {
        this.settle(group, err);
        continue;
      }
      this.track(group, written);
    }
    this.running = null;
  }

  /**
   * Waits until the next group may be written: nothing unacknowledged, or one group whose
   * sync is late (see LATE_FACTOR).
   */
  private async untilOverlapAllowed(): Promise<void> {
    for (;;) {
      const oldest = this.unacknowledged[0];
      if (oldest === undefined) return;
      if (this.unacknowledged.length < MAX_UNACKNOWLEDGED) {
        const late = oldest.started + LATE_FACTOR * this.usualSyncMs - this.now();
        if (late <= 0) return;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([oldest.done, new Promise((r) => (timer = setTimeout(r, late)))]);
        clearTimeout(timer);
      } else await oldest.done;
    }
  }

  /** Starts the group's sync and acknowledges it after every earlier group, or fails it. */
  private track(group: Pending[], written: WrittenGroup): void {
    const started = this.now();
    const synced = written.sync().then(
      () => {
        const took = this.now() - started;
        this.usualSyncMs = this.usualSyncMs === 0 ? took : 0.9 * this.usualSyncMs + 0.1 * took;
        return null;
      },
      (err: unknown) => err ?? new LogError("io", "a commit's sync failed"),
    );
    const earlier = this.tail;
    const outcome = (async (): Promise<unknown> => {
      const failure = (await earlier) ?? (await synced);
      if (failure === null) {
        written.acknowledge();
        this.settle(group, null, written.first);
      } else {
        this.failed = true;
        written.abandon();
        this.settle(group, failure);
      }
      return failure;
    })();
    this.tail = outcome;
    const entry = {
      started,
      done: outcome.then(() => {
        this.unacknowledged = this.unacknowledged.filter((e) => e !== entry);
      }),
    };
    this.unacknowledged.push(entry);
  }

  private async allSettled(): Promise<void> {
    await Promise.all(this.unacknowledged.map((e) => e.done));
  }

  private settle(group: Pending[], err: unknown, first = 0): void {
    let index = first;
    for (const p of group) {
      this.pendingBytes -= p.bytes;
      if (err === null) p.resolve({ firstIndex: index });
      else p.reject(err);
      index += p.entries.length;
    }
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

/** A one-step commit as a split one whose sync has already happened in its write. */
function oneStep(commit: Commit): SplitCommit {
  return {
    write: async (entries, leafHashes) => {
      const first = await commit(entries, leafHashes);
      return { first, sync: () => Promise.resolve(), acknowledge: () => {}, abandon: () => {} };
    },
    rewind: () => {},
  };
}

/** One list of what each append of a group holds, in order (the append's own list when alone). */
function joined<T>(group: readonly Pending[], pick: (p: Pending) => readonly T[]): readonly T[] {
  return group.length === 1 ? pick(group[0]!) : group.flatMap(pick);
}
