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
import { statSync } from "node:fs";
import type { FsDriver } from "../store/fs/driver.js";
import { BUNDLE_SIZE, type AuditLog } from "../store/types.js";
import { classify, expired, keptBecause, type EntryClass, type RetentionPolicy } from "./policy.js";
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
  /** With `thin`: entries removed from kept bundles, how many bundles held them, and the records listing them. */
  thinned: { entries: number; bundles: number; bytesFreed: number; records: number[] };
}

/** Records of the log's own that verify reads: never thinned. */
const BOOKKEEPING = new Set([RETENTION_RECORD_KIND, ERASURE_RECORD_KIND, KEY_EVENT_KIND]);

function thinnable(policy: RetentionPolicy, c: EntryClass, nowUs: number): boolean {
  return (c.audit || !BOOKKEEPING.has(c.kind ?? "")) && expired(policy, c, nowUs);
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
    thinned: { entries: 0, bundles: 0, bytesFreed: 0, records: [] },
  };
  const thin = opts.thin ? await findThinnable(log, opts, before, limit, nowUs) : new Map<number, number[]>();
  result.thinned.bundles = thin.size;
  for (const lines of thin.values()) result.thinned.entries += lines.length;
  if ((before === from && thin.size === 0) || opts.dryRun) return result;
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
  const thinned: ThinnedBundle[] = [...thin].map(([bundle, lines]) => ({
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
    const bundles = [...thin];
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
  return result;
}

/** Expired entries in the full bundles of [from, limit), by bundle: the lines of each to thin. */
async function findThinnable(
  log: AuditLog,
  opts: RetentionRunOptions,
  from: number,
  limit: number,
  nowUs: number,
): Promise<Map<number, number[]>> {
  const found = new Map<number, number[]>();
  for await (const entry of log.readEntries(from, Math.max(from, limit))) {
    if (entry.index % BUNDLE_SIZE === 0) opts.onProgress?.(entry.index - from, limit - from);
    // An erased (or already thinned) entry holds nothing left to remove.
    if (entry.data === undefined || !thinnable(opts.policy, classify(entry.data), nowUs)) continue;
    const bundle = Math.floor(entry.index / BUNDLE_SIZE);
    let lines = found.get(bundle);
    if (lines === undefined) found.set(bundle, (lines = []));
    lines.push(entry.index % BUNDLE_SIZE);
  }
  return found;
}
