// A retention run: finds the oldest bundles whose every entry is past what the policy keeps,
// appends a retention record saying so and waits until a signed checkpoint covers it, then
// removes those bundles (FsDriver.pruneBundles: DATA/retention first, then the files). A crash
// after the record and before the removal leaves a record covering bundles still there, which
// is no error; the next run removes them. Only whole bundles go, from the oldest on, and never
// beyond the tiles that are durable, so every leaf hash stays and every checkpoint verifies.
import { statSync } from "node:fs";
import type { FsDriver } from "../store/fs/driver.js";
import { BUNDLE_SIZE, type AuditLog } from "../store/types.js";
import { classify, expired, keptBecause, type RetentionPolicy } from "./policy.js";
import { retentionRecord } from "../records/retention-record.js";

export interface RetentionRunOptions {
  policy: RetentionPolicy;
  /** Who runs it, recorded. */
  by: string;
  /** The time the policy is applied at (default: now), microseconds since the epoch. */
  nowUs?: number;
  /** Only say what would be removed. */
  dryRun?: boolean;
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
  };
  if (before === from || opts.dryRun) return result;
  for (let b = from / BUNDLE_SIZE; b < before / BUNDLE_SIZE; b++)
    result.bytesFreed += fileBytes(driver.layout.bundle(b)) + fileBytes(driver.layout.compressedBundle(b));
  const record = retentionRecord({
    time: new Date(nowUs / 1000).toISOString(),
    by: opts.by,
    policy: { name: opts.policy.name, sha256: opts.policy.digest },
    range: { from, before },
    prunedBefore: before,
  });
  const { firstIndex } = await log.append([Buffer.from(JSON.stringify(record))]);
  await log.waitIntegrated(firstIndex + 1);
  result.recordIndex = firstIndex;
  await driver.pruneBundles(
    before,
    `retention record #${firstIndex} (policy ${opts.policy.name}, by ${opts.by})`,
  );
  return result;
}
