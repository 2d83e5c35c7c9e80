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
// A thinning run (thin.ts) reads every full bundle after the pruned point, or with cursors only
// what can have expired since the last run.
import { statSync } from "node:fs";
import type { FsDriver } from "../store/fs/driver.js";
import { BUNDLE_SIZE, type AuditLog } from "../store/types.js";
import { classify, expired, keptBecause, type RetentionPolicy } from "./policy.js";
import { findThinnable, type FindThinnable, type ThinCursors } from "./thin.js";
import { encodeLines, retentionRecord, type ThinnedBundle } from "../records/retention-record.js";

/** Where a run must stop and why: an entry index, below which only whole bundles may go. */
export interface RetentionHold {
  before: number;
  why: string;
}

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
  /**
   * Where the run must stop for someone who still needs the entries (serve's push mirrors),
   * given how far the log is pruned already; null when no one holds it back.
   */
  hold?: (prunedBefore: number) => RetentionHold | null;
  /** Thin only what can have expired since the run that left these (serve's runs). */
  cursors?: ThinCursors;
  /** How the entries to thin are found: findThinnable here (the default), or off the event loop. */
  findThinnable?: FindThinnable;
  /** Thinned bundles listed per retention record (default 2,048: records of about 150 KB). */
  bundlesPerRecord?: number;
  /** Told how far the scan for entries to thin got (entries read, of those to read). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Told the log indexes of entries just thinned, a few hundred bundles' worth at a time, and
   * how many of the bundles to rewrite are done.
   */
  onThinned?: (indexes: number[], bundlesDone: number, bundlesTotal: number) => void;
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
  const tiled = Math.min(driver.prunableBefore, size - (size % BUNDLE_SIZE));
  const hold = opts.hold?.(from) ?? null;
  const limit = hold ? Math.min(tiled, hold.before - (hold.before % BUNDLE_SIZE)) : tiled;
  const atLimit =
    hold && limit < tiled
      ? hold.why
      : limit <= from
        ? "no full bundle with durable tiles left to look at"
        : "every full bundle with durable tiles was looked at";
  let before = from;
  let stoppedBy = "";
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
  if (stoppedBy === "") stoppedBy = atLimit;
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
  if (opts.thin)
    result.thinned.read = await (opts.findThinnable ?? findThinnable)(
      log,
      { ...opts, from: before, limit, nowUs },
      thin,
      moves,
    );
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
      opts.onThinned?.(indexes, i + chunk.length, bundles.length);
    }
  }
  advance();
  return result;
}
