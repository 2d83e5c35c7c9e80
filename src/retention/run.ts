// A retention run: finds the oldest bundles whose every entry is past what the policy keeps,
// appends a retention record saying so and waits until a signed checkpoint covers it, then
// removes those bundles (FsDriver.pruneBundles: DATA/retention first, then the files). A crash
// after the record and before the removal leaves a record covering bundles still there, which
// is no error; the next run removes them. Only whole bundles go, from the oldest on, and never
// beyond the tiles that are durable, so every leaf hash stays and every checkpoint verifies.
//
// With `thin`, the run also removes, one by one, the entries the policy no longer keeps from
// the bundles it keeps (a bundle holding one Secret read kept for years would otherwise keep
// every pod read beside it): they are listed in retention records first, then tombstoned as
// erasure does (FsDriver.eraseEntries), their leaf hashes staying in the tiles. The log's own
// bookkeeping (retention and erasure records, key events) is never thinned: verify needs it.
//
// A thinning run reads every full bundle after the pruned point. serve's runs, hourly, read
// only what can have expired since the last (ThinCursors): per keep period of the policy, from
// the bundle of the first entry of that period the last run still kept, up to the next such
// entry (saved beside the log by the serve extension). Entries of one period expire in log
// order but for small disorder, so an entry older than one kept before it (an old audit file
// imported late) waits until that one expires.
import { statSync } from "node:fs";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import type { FsDriver } from "../store/fs/driver.js";
import { BUNDLE_SIZE, type AuditLog } from "../store/types.js";
import { classify, expired, keepOf, keptBecause, type EntryClass, type RetentionPolicy } from "./policy.js";
import {
  encodeLines,
  RETENTION_RECORD_KIND,
  retentionRecord,
  type ThinnedBundle,
} from "../records/retention-record.js";
import { ERASURE_RECORD_KIND } from "../records/erasure-record.js";
import { KEY_EVENT_KIND } from "../keys/key-event.js";

export interface RetentionRunOptions {
  policy: RetentionPolicy;
  /** Who runs it, recorded. */
  by: string;
  /** The time the policy is applied at (default: now), microseconds since the epoch. */
  nowUs?: number;
  /** Only say what would be removed. */
  dryRun?: boolean;
  /** Also remove expired entries one by one from the bundles kept (see the file comment). */
  thin?: boolean;
  /** Thin only what can have expired since the run that left these (serve's runs). */
  cursors?: ThinCursors;
  /** Thinned bundles listed per retention record (default 2,048: records of about 150 KB). */
  bundlesPerRecord?: number;
  /** Told how far the scan for entries to thin got (entries read, of those to read). */
  onProgress?: (done: number, total: number) => void;
  /** Told the log indexes of entries just thinned, a few hundred bundles' worth at a time. */
  onThinned?: (indexes: number[]) => void;
}

export interface RetentionRunResult {
  /** Bundles of entries [from, before) removed (none when equal). */
  from: number;
  before: number;
  bundles: number;
  /** Disk the removed bundle files took. */
  bytesFreed: number;
  /** Log index of the retention record appended, or null (nothing to remove, or a dry run). */
  recordIndex: number | null;
  /** Why the run stopped where it did. */
  stoppedBy: string;
  /** With `thin`: entries removed from kept bundles, how many bundles held them, the records listing them, and the entries read to find them. */
  thinned: { entries: number; bundles: number; bytesFreed: number; records: number[]; read: number };
}

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

function fileBytes(file: string): number {
  try {
    return statSync(file).blocks * 512;
  } catch {
    return 0;
  }
}

/** Applies `opts.policy` to `log` (see the file comment). */
export async function runRetention(
  log: AuditLog & { driver: FsDriver },
  opts: RetentionRunOptions,
): Promise<RetentionRunResult> {
  const nowUs = opts.nowUs ?? Date.now() * 1000;
  const driver = log.driver;
  const from = (await driver.prunedSoFar())?.prunedBefore ?? 0;
  const size = log.latestCheckpoint().size;
  const limit = Math.min(driver.prunableBefore, size - (size % BUNDLE_SIZE));
  let before = from;
  let stoppedBy = limit <= from ? "no full bundle with durable tiles left to look at" : "";
  scan: while (before + BUNDLE_SIZE <= limit) {
    for await (const entry of log.readEntries(before, before + BUNDLE_SIZE)) {
      // An erased entry holds nothing left to keep.
      if (entry.data === undefined) continue;
      const c = classify(entry.data);
      if (!expired(opts.policy, c, nowUs)) {
        stoppedBy = `entry ${entry.index} is still kept (${keptBecause(opts.policy, c)}); only whole bundles go, oldest first`;
        break scan;
      }
    }
    before += BUNDLE_SIZE;
  }
  if (stoppedBy === "") stoppedBy = "every full bundle with durable tiles was looked at";
  const result: RetentionRunResult = {
    from,
    before,
    bundles: (before - from) / BUNDLE_SIZE,
    bytesFreed: 0,
    recordIndex: null,
    stoppedBy,
    thinned: { entries: 0, bundles: 0, bytesFreed: 0, records: [], read: 0 },
  };
  const thin = new Map<number, number[]>();
  // Where the cursors go once this run has thinned what it found (not before: a run that fails
  // leaves them, and the next looks again).
  const moves: [keep: number, index: number][] = [];
  if (opts.thin) result.thinned.read = await findThinnable(log, opts, before, limit, nowUs, thin, moves);
  result.thinned.bundles = thin.size;
  for (const lines of thin.values()) result.thinned.entries += lines.length;
  if (opts.dryRun) return result;
  const advance = (): void => {
    for (const [keep, index] of moves) opts.cursors?.set(keep, index);
  };
  if (before === from && thin.size === 0) {
    advance();
    return result;
  }
  const bundleBytes = (b: number) =>
    fileBytes(driver.layout.bundle(b)) + fileBytes(driver.layout.compressedBundle(b));
  for (let b = from / BUNDLE_SIZE; b < before / BUNDLE_SIZE; b++) result.bytesFreed += bundleBytes(b);
  const fields = {
    time: new Date(nowUs / 1000).toISOString(),
    by: opts.by,
    policy: { name: opts.policy.name, sha256: opts.policy.digest },
    range: { from, before },
    prunedBefore: before,
  };
  const records = [];
  if (before > from) records.push(retentionRecord(fields));
  // In log order (cursors' walks may find bundles out of it).
  const bundles = [...thin].sort((a, b) => a[0] - b[0]);
  const thinned: ThinnedBundle[] = bundles.map(([bundle, lines]) => ({
    bundle,
    lines: encodeLines(lines),
  }));
  const perRecord = opts.bundlesPerRecord ?? 2048;
  for (let i = 0; i < thinned.length; i += perRecord)
    records.push(
      retentionRecord({
        ...fields,
        range: { from: before, before },
        thinned: thinned.slice(i, i + perRecord),
      }),
    );
  const { firstIndex } = await log.append(records.map((r) => Buffer.from(JSON.stringify(r))));
  await log.waitIntegrated(firstIndex + records.length);
  if (before > from) {
    result.recordIndex = firstIndex;
    await driver.pruneBundles(
      before,
      `retention record #${firstIndex} (policy ${opts.policy.name}, by ${opts.by})`,
    );
  }
  if (thin.size > 0) {
    result.thinned.records = records.map((_, k) => firstIndex + k).slice(before > from ? 1 : 0);
    // A few hundred bundles at a time: what a rewrite holds stays small on a large log.
    for (let i = 0; i < bundles.length; i += 256) {
      const chunk = bundles.slice(i, i + 256);
      const was = chunk.reduce((n, [b]) => n + bundleBytes(b), 0);
      const indexes = chunk.flatMap(([b, lines]) => lines.map((l) => b * BUNDLE_SIZE + l));
      await driver.eraseEntries(indexes);
      result.thinned.bytesFreed += Math.max(0, was - chunk.reduce((n, [b]) => n + bundleBytes(b), 0));
      opts.onThinned?.(indexes);
    }
  }
  advance();
  return result;
}

/**
 * Puts in `found` the expired entries of the full bundles of [from, limit), by bundle: the lines
 * of each to thin. Reads them all, or with cursors what can have expired since (see the file
 * comment), saying in `moves` where each cursor goes next. Returns the number of entries read.
 */
async function findThinnable(
  log: AuditLog,
  opts: RetentionRunOptions,
  from: number,
  limit: number,
  nowUs: number,
  found: Map<number, number[]>,
  moves: [keep: number, index: number][],
): Promise<number> {
  const add = (index: number): void => {
    const bundle = Math.floor(index / BUNDLE_SIZE);
    let lines = found.get(bundle);
    if (lines === undefined) found.set(bundle, (lines = []));
    if (!lines.includes(index % BUNDLE_SIZE)) lines.push(index % BUNDLE_SIZE);
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
  for (const lines of found.values()) lines.sort((a, b) => a - b);
  return read;
}
