// Query answers come from the log, not from the index: each row's entry is read back and
// its leaf hash compared with the row's, so a stale or tampered index cannot invent results.
import { closeSync, openSync, readSync } from "node:fs";
import { BUNDLE_SIZE } from "../store/fs-layout.js";
import type { LogReader } from "../store/types.js";
import { hashLeaf, hashesEqual } from "../tlog/index.js";
import { IndexError } from "./errors.js";
import { parsedEntry, type IndexRow } from "./row.js";

export interface ResolvedEntry {
  /** Derived again from the log's bytes, so nothing shown comes from the index alone. */
  row: IndexRow;
  /** The entry bytes exactly as stored in the log. */
  data: Uint8Array;
  /** The entry parsed (once, for both row and output). */
  value: unknown;
  /**
   * Only with `keepMismatched`: the log's bytes do not hash to the leaf hash the index
   * recorded (a damaged or altered entry); `data` and `row` are what the log holds now.
   */
  mismatch?: true;
}

export interface ResolveOptions {
  /**
   * Return entries whose bytes do not match the index, flagged, instead of failing the whole
   * answer: for the UI, which checks each entry's inclusion proof itself and names the bad one.
   */
  keepMismatched?: boolean;
}

/** Where full entry bundles live (the fs driver's FsLayout), for reading single entries. */
export interface BundleFiles {
  bundle(index: number): string;
}

/** Groups indexes into read ranges, one per entry bundle, so each bundle is read once. */
export function readRanges(indexes: readonly number[]): { start: number; end: number }[] {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const ranges: { start: number; end: number }[] = [];
  for (const i of sorted) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && Math.floor((last.end - 1) / BUNDLE_SIZE) === Math.floor(i / BUNDLE_SIZE)) {
      last.end = i + 1;
    } else ranges.push({ start: i, end: i + 1 });
  }
  return ranges;
}

/**
 * Reads entries by their recorded bundle offset with one positioned read each; only full
 * (immutable) bundles. Anything that cannot be read this way, or does not hash to the row's
 * leaf hash, is left for the whole-bundle path. Synchronous on purpose: these are page-cache
 * reads of a few KB, where the thread-pool round trips of async fs would cost more than the read.
 */
function readByOffset(
  rows: readonly IndexRow[],
  files: BundleFiles,
  fullEntries: number,
  out: Map<number, Uint8Array>,
): void {
  const byBundle = new Map<number, IndexRow[]>();
  for (const r of rows) {
    if (r.offset === null || r.idx >= fullEntries) continue;
    const n = Math.floor(r.idx / BUNDLE_SIZE);
    const list = byBundle.get(n) ?? [];
    list.push(r);
    byBundle.set(n, list);
  }
  for (const [n, list] of byBundle) {
    let fd: number;
    try {
      fd = openSync(files.bundle(n), "r");
    } catch {
      continue;
    }
    try {
      for (const r of list) {
        const buf = Buffer.allocUnsafe(r.length);
        // Checked again with every other row below; a mismatch here just means "read the bundle".
        if (readSync(fd, buf, 0, r.length, r.offset) === r.length && hashesEqual(hashLeaf(buf), r.leafHash)) {
          out.set(r.idx, buf);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * The log's bytes for each row, in the rows' order. Throws IndexError("mismatch") naming the
 * entry when the log's bytes do not hash to the leaf hash the index recorded.
 */
export async function resolveEntries(
  log: LogReader,
  rows: readonly IndexRow[],
  files?: BundleFiles,
  opts: ResolveOptions = {},
): Promise<ResolvedEntry[]> {
  const bytes = new Map<number, Uint8Array>();
  if (files !== undefined) {
    const size = log.latestCheckpoint().size;
    readByOffset(rows, files, size - (size % BUNDLE_SIZE), bytes);
  }
  // Entries read by offset were hashed and matched already.
  const verified = new Set(bytes.keys());
  const missing = new Set(rows.map((r) => r.idx).filter((i) => !bytes.has(i)));
  for (const { start, end } of readRanges([...missing])) {
    for await (const e of log.readEntries(start, end)) if (missing.has(e.index)) bytes.set(e.index, e.data);
  }
  return rows.map((row) => {
    const data = bytes.get(row.idx);
    if (data === undefined) {
      throw new IndexError("mismatch", `entry ${row.idx}: in the index but not readable from the log`);
    }
    const leaf = verified.has(row.idx) ? row.leafHash : hashLeaf(data);
    if (!hashesEqual(leaf, row.leafHash)) {
      if (opts.keepMismatched) {
        const { row: fresh, value } = parsedEntry(row.idx, data, leaf, row.offset);
        return { row: fresh, data, value, mismatch: true };
      }
      throw new IndexError(
        "mismatch",
        `entry ${row.idx}: the log's bytes do not match the index (run kubetrail reindex)`,
      );
    }
    const { row: fresh, value } = parsedEntry(row.idx, data, leaf, row.offset);
    return { row: fresh, data, value };
  });
}
