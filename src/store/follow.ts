// Feeds the integrated log, in order, to a downstream consumer (index, detector). The
// consumer owns its position: it passes where to start and persists how far it got, so
// it can always be rebuilt from the log.
import type { AuditLog, LogEntry } from "./types.js";

export interface FollowOptions<T = LogEntry> {
  /** Index of the first entry to deliver. */
  from: number;
  /** Entries per onEntries call (default 1024), or a function asked before each call. */
  batchSize?: number | (() => number);
  /** Called with consecutive entries; the next call waits until this one resolves. */
  onEntries(entries: T[]): Promise<void>;
  /** A failed onEntries is retried at the next checkpoint (or after retryMs); told here. */
  onError?(err: unknown): void;
  retryMs?: number;
}

export interface Follower {
  /** Index of the next entry to deliver (everything before it was handled). */
  position(): number;
  /** Resolves once every entry covered by the checkpoint at call time was handled. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/** Resolves with the entries at indexes start..end-1, in order, each exactly once. */
export type RangeReader<T> = (start: number, end: number) => Promise<T[]>;

export function followLog(log: AuditLog, opts: FollowOptions): Follower {
  return followLogWith(log, (start, end) => collect(log.readEntries(start, end)), opts);
}

/** Gathers an async iterable into an array (appended to `into` when given). */
export async function collect<T>(items: AsyncIterable<T>, into: T[] = []): Promise<T[]> {
  for await (const item of items) into.push(item);
  return into;
}

/**
 * Like followLog, but the entries of each integrated range come from `read`: a consumer that
 * already holds some of them in another form (the detector, given ingest's parsed events)
 * reads only the rest from the log. Delivery order, batching and retries are followLog's.
 */
export function followLogWith<T>(
  log: Pick<AuditLog, "latestCheckpoint" | "onIntegrated">,
  read: RangeReader<T>,
  opts: FollowOptions<T>,
): Follower {
  const size = opts.batchSize ?? 1024;
  const batchSize = typeof size === "number" ? () => size : size;
  let position = opts.from;
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let retry: NodeJS.Timeout | null = null;

  const drain = async (): Promise<void> => {
    do {
      again = false;
      const target = log.latestCheckpoint().size;
      while (!stopped && position < target) {
        const end = Math.min(target, position + batchSize());
        await opts.onEntries(await read(position, end));
        position = end;
      }
    } while (again && !stopped);
  };

  const kick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = drain()
      .catch((err: unknown) => {
        opts.onError?.(err);
        retry ??= setTimeout(() => {
          retry = null;
          void kick();
        }, opts.retryMs ?? 1000);
      })
      .finally(() => (running = null));
    return running;
  };

  const unsubscribe = log.onIntegrated(() => void kick());
  void kick();

  return {
    position: () => position,
    caughtUp: async () => {
      const target = log.latestCheckpoint().size;
      while (!stopped && position < target) {
        await kick();
        if (running === null && position < target) await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: async () => {
      stopped = true;
      unsubscribe();
      if (retry) clearTimeout(retry);
      await running;
    },
  };
}
