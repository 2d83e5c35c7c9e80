// Finding what a thinning run removes (run.ts): in the full bundles a retention run keeps, the
// entries the policy no longer keeps. The log's own bookkeeping (retention and erasure records,
// key events) is never thinned: verify needs it.
//
// The CLI's run reads every full bundle after the pruned point. serve's runs, hourly, read only
// what can have expired since the last (ThinCursors): per keep period of the policy, from the
// bundle of the first entry of that period the last run still kept, up to the next such entry.
// Entries of one period expire in log order but for small disorder, so an entry older than one
// kept before it (an old audit file imported late) waits until that one expires. The cursors
// are saved beside the log for the policy in force.
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { BUNDLE_SIZE, type AuditLog } from "../store/types.js";
import { ERASURE_RECORD_KIND } from "../records/erasure-record.js";
import { RETENTION_RECORD_KIND } from "../records/retention-record.js";
import { KEY_EVENT_KIND } from "../keys/key-event.js";
import { classify, expired, keepOf, type EntryClass, type RetentionPolicy } from "./policy.js";

/** Records of the log's own that verify reads: never thinned. */
const BOOKKEEPING = new Set([RETENTION_RECORD_KIND, ERASURE_RECORD_KIND, KEY_EVENT_KIND]);

const isBookkeeping = (c: EntryClass): boolean => !c.audit && BOOKKEEPING.has(c.kind ?? "");

function thinnable(policy: RetentionPolicy, c: EntryClass, nowUs: number): boolean {
  return !isBookkeeping(c) && expired(policy, c, nowUs);
}

/**
 * Where serve's thinning runs go on from, per keep period (µs): the first entry to look at
 * again. Saved beside the log (save/load) for one policy: after a restart, or under another
 * policy, runs look from the pruned point again; a file that cannot be read is only that.
 */
export class ThinCursors {
  private readonly at = new Map<number, number>();

  from(keep: number, floor: number): number {
    return Math.max(floor, this.at.get(keep) ?? floor);
  }

  set(keep: number, index: number): void {
    this.at.set(keep, index);
  }

  /** The cursors as [keep, index] pairs (for a thread of their own, ThinCursors.of). */
  entries(): [keep: number, index: number][] {
    return [...this.at];
  }

  static of(entries: readonly (readonly [keep: number, index: number])[]): ThinCursors {
    const cursors = new ThinCursors();
    for (const [keep, index] of entries) cursors.set(keep, index);
    return cursors;
  }

  /** The cursors `file` holds for the policy of digest `policy` (none for another policy, or a damaged file). */
  static async load(file: string, policy: string): Promise<ThinCursors> {
    const cursors = new ThinCursors();
    try {
      const saved = JSON.parse((await readFileIfExists(file))?.toString("utf8") ?? "null") as {
        policy?: unknown;
        cursors?: Record<string, unknown>;
      } | null;
      if (saved?.policy !== policy) return cursors;
      for (const [keep, index] of Object.entries(saved.cursors ?? {}))
        if (Number.isSafeInteger(Number(keep)) && Number.isSafeInteger(index) && (index as number) >= 0)
          cursors.set(Number(keep), index as number);
    } catch {
      // Derived: without it the next run reads every full bundle once.
    }
    return cursors;
  }

  async save(file: string, policy: string): Promise<void> {
    await writeFileAtomic(file, JSON.stringify({ policy, cursors: Object.fromEntries(this.at) }) + "\n");
  }
}

/** The policy's finite keep periods: what a thinning run walks the log for, one by one. */
function keepPeriods(policy: RetentionPolicy): number[] {
  const all = [policy.keep, policy.records, ...policy.rules.map((r) => r.keep)];
  return [...new Set(all.filter((k): k is number => k !== null))];
}

/** What to look through, under which policy, at what time. */
export interface ThinScan {
  policy: RetentionPolicy;
  /** Full bundles of [from, limit). */
  from: number;
  limit: number;
  nowUs: number;
  cursors?: ThinCursors;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Puts in `found` the expired entries of the full bundles of [from, limit), by bundle: the lines
 * of each to thin. Reads them all, or with cursors what can have expired since (see the file
 * comment), saying in `moves` where each cursor goes next. Returns the number of entries read.
 */
export async function findThinnable(
  log: Pick<AuditLog, "readEntries">,
  opts: ThinScan,
  found: Map<number, number[]>,
  moves: [keep: number, index: number][],
): Promise<number> {
  const { from, limit, nowUs } = opts;
  // Each entry has one keep period, so no walk finds an entry another found.
  const add = (index: number): void => {
    const bundle = Math.floor(index / BUNDLE_SIZE);
    let lines = found.get(bundle);
    if (lines === undefined) found.set(bundle, (lines = []));
    lines.push(index % BUNDLE_SIZE);
  };
  let read = 0;
  const cursors = opts.cursors;
  if (cursors === undefined) {
    for await (const entry of log.readEntries(from, Math.max(from, limit))) {
      if (entry.index % BUNDLE_SIZE === 0) opts.onProgress?.(entry.index - from, limit - from);
      read++;
      // An erased (or already thinned) entry holds nothing left to remove.
      if (entry.data !== undefined && thinnable(opts.policy, classify(entry.data), nowUs)) add(entry.index);
    }
    return read;
  }
  for (const keep of keepPeriods(opts.policy)) {
    const start = cursors.from(keep, from);
    let next = Math.max(start, limit);
    for await (const entry of log.readEntries(start, Math.max(start, limit))) {
      read++;
      if (entry.data === undefined) continue;
      const c = classify(entry.data);
      if (isBookkeeping(c) || c.timeUs === null || keepOf(opts.policy, c).keep !== keep) continue;
      if (!expired(opts.policy, c, nowUs)) {
        next = entry.index - (entry.index % BUNDLE_SIZE);
        break;
      }
      add(entry.index);
    }
    moves.push([keep, next]);
  }
  // Walks of different periods meet in a bundle out of line order.
  for (const lines of found.values()) lines.sort((a, b) => a - b);
  return read;
}

/** findThinnable, here or on a thread of its own (scan-thread.ts). */
export type FindThinnable = typeof findThinnable;
