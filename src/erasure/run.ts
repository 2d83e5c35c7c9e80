// Erasure: the personal data of matched entries removed while the log stays verifiable.
//
//   1. find the entries: audit events by user (or the user they impersonated) or by auditID,
//      and kubetrail's own records (alerts, quarantined items) that quote the value; or the
//      entries a query filter matched (select.ts) and the records quoting their auditIDs;
//   2. append an erasure record listing them (the value only as a keyed hash) and wait until a
//      signed checkpoint covers it;
//   3. replace each entry by the format's tombstone, an empty line, in its bundle (rewritten
//      whole, compressed as it was): its leaf hash stays in the level-0 tile, so the tree, every
//      checkpoint and every proof of another entry still verify;
//   4. empty the write-ahead log, whose slots may still hold copies; the caller then rebuilds
//      the derived files (index, dedupe store) from the log, which no longer holds the values.
//
// A crash after 2 leaves a record listing entries still present (no error: verify counts only
// empty lines); running the same erasure again finishes it. Only entries of full bundles whose
// tiles are durable can be erased; matches in the open bundle are refused, naming them, or left
// for a later run (skipOpenBundle).
import { createHmac } from "node:crypto";
import { erasureRecord } from "../records/erasure-record.js";
import type { FsDriver } from "../store/fs/driver.js";
import { BUNDLE_SIZE, LogError, type AuditLog } from "../store/types.js";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";

export type ErasureSelector =
  | { field: "user" | "auditID"; value: string }
  /**
   * A query filter (select.ts): `value` is its canonical text, what the record names by keyed
   * hash; `indexes` and `auditIDs` what the index matched for it.
   */
  | { field: "filter"; value: string; indexes: readonly number[]; auditIDs: readonly string[] };

export interface ErasureOptions {
  selector: ErasureSelector;
  by: string;
  reason: string;
  /** The log's redaction key: the record names the value by HMAC under it. */
  hmacKey: Uint8Array;
  dryRun?: boolean;
  /** Records list at most this many entries each (default 10,000); more make several records. */
  perRecord?: number;
  /**
   * Erase the matches in full bundles and leave those in the open bundle (ErasureResult
   * .inOpenBundle) for a run once it has filled, instead of refusing the whole erasure: an
   * active user or namespace always has some there.
   */
  skipOpenBundle?: boolean;
  /** Told how far the scan of the log for matches got (entries read, of the log's size). */
  onProgress?: (done: number, total: number) => void;
}

export interface ErasureResult {
  /** The entries erased (or, on a dry run, that would be). */
  entries: number[];
  /** Matches in the open bundle, which cannot be erased until it fills: left (skipOpenBundle) or refused. */
  inOpenBundle: number[];
  /** Log indexes of the erasure records appended. */
  records: number[];
  bundles: number;
}

/** Records of the log's own that an erasure never takes: they are what makes it checkable. */
const isLogBookkeeping = (kind: unknown) => kind === "ErasureRecord" || kind === "RetentionRecord";

function parseEntry(bytes: Buffer): Record<string, unknown> | null {
  try {
    return JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const asBuffer = (entry: Uint8Array) => Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);

function valueMatcher(selector: {
  field: "user" | "auditID";
  value: string;
}): (entry: Uint8Array) => boolean {
  const quoted = Buffer.from(JSON.stringify(selector.value));
  return (entry) => {
    const bytes = asBuffer(entry);
    // Cheap first: an entry that does not hold the value in JSON form cannot match.
    if (!bytes.includes(quoted)) return false;
    const doc = parseEntry(bytes);
    if (doc === null) return false;
    // kubetrail's own records (an alert naming the user) go with the events they quote.
    if (doc["kind"] !== "Event") return !isLogBookkeeping(doc["kind"]);
    if (selector.field === "auditID") return doc["auditID"] === selector.value;
    const user = doc["user"] as { username?: unknown } | undefined;
    const as = doc["impersonatedUser"] as { username?: unknown } | undefined;
    return user?.username === selector.value || as?.username === selector.value;
  };
}

/** Whether any string inside `value` (at any depth) is in `wanted`. */
function quotesAny(value: unknown, wanted: ReadonlySet<string>): boolean {
  if (typeof value === "string") return wanted.has(value);
  if (Array.isArray(value)) return value.some((v) => quotesAny(v, wanted));
  if (value !== null && typeof value === "object")
    return Object.values(value).some((v) => quotesAny(v, wanted));
  return false;
}

const OWN_RECORD = Buffer.from(JSON.stringify(KUBETRAIL_API_VERSION));

function filterMatcher(
  indexes: readonly number[],
  auditIDs: readonly string[],
): (entry: Uint8Array, index: number) => boolean {
  const wanted = new Set(indexes);
  const ids = new Set(auditIDs);
  return (entry, index) => {
    const bytes = asBuffer(entry);
    const own = bytes.includes(OWN_RECORD);
    if (!own) return wanted.has(index);
    const doc = parseEntry(bytes);
    if (doc === null || isLogBookkeeping(doc["kind"])) return false;
    // kubetrail's own records that quote a matched request (an alert lists its events' auditIDs).
    return wanted.has(index) || (doc["kind"] !== "Event" && quotesAny(doc, ids));
  };
}

function matcher(selector: ErasureSelector): (entry: Uint8Array, index: number) => boolean {
  return selector.field === "filter"
    ? filterMatcher(selector.indexes, selector.auditIDs)
    : valueMatcher(selector);
}

export async function runErasure(
  log: AuditLog & { driver: FsDriver },
  opts: ErasureOptions,
): Promise<ErasureResult> {
  const matches = matcher(opts.selector);
  const size = log.latestCheckpoint().size;
  const found: number[] = [];
  for await (const e of log.readEntries(0, size)) {
    if (e.data !== undefined && matches(e.data, e.index)) found.push(e.index);
    if (e.index % BUNDLE_SIZE === 0) opts.onProgress?.(e.index, size);
  }
  const limit = log.driver.prunableBefore;
  const inOpenBundle = found.filter((i) => i >= limit);
  if (inOpenBundle.length > 0 && !opts.skipOpenBundle && !opts.dryRun)
    throw new LogError(
      "invalid",
      `${inOpenBundle.length} matched entries (from ${inOpenBundle[0]}) are in the open bundle: erase again once it is full (every ${BUNDLE_SIZE} entries) and its tiles are synced, or erase the rest now with --skip-open-bundle; nothing was changed`,
    );
  const erasing = opts.skipOpenBundle ? found.filter((i) => i < limit) : found;
  const result: ErasureResult = { entries: erasing, inOpenBundle, records: [], bundles: 0 };
  if (erasing.length === 0 || opts.dryRun) return result;
  const hmac = createHmac("sha256", opts.hmacKey)
    .update(`${opts.selector.field}:${opts.selector.value}`)
    .digest("hex");
  const perRecord = opts.perRecord ?? 10_000;
  const time = new Date().toISOString();
  const records: Buffer[] = [];
  for (let i = 0; i < erasing.length; i += perRecord)
    records.push(
      Buffer.from(
        JSON.stringify(
          erasureRecord({
            time,
            by: opts.by,
            reason: opts.reason,
            selector: { field: opts.selector.field, hmac },
            entries: erasing.slice(i, i + perRecord),
          }),
        ),
      ),
    );
  const { firstIndex } = await log.append(records);
  await log.waitIntegrated(firstIndex + records.length);
  result.records = records.map((_, k) => firstIndex + k);
  result.bundles = await log.driver.eraseEntries(erasing);
  await log.driver.clearWriteAhead();
  return result;
}
