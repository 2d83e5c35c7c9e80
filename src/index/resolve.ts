// Query answers come from the log, not from the index: each row's entry is read back through
// the LogReader and its leaf hash compared with the row's, so a stale or tampered index cannot
// invent results.
import type { Gone, LogReader } from "../store/types.js";
import { BUNDLE_SIZE } from "../store/types.js";
import { hashLeaf, hashesEqual } from "../tlog/index.js";
import { IndexError } from "./errors.js";
import { parsedEntry, type IndexRow } from "./row.js";
import { settleEach } from "../store/durable-file.js";

export interface ResolvedEntry {
  /** Derived again from the log's bytes, so nothing shown comes from the index alone (the index's row when gone). */
  row: IndexRow;
  /** The entry bytes exactly as stored in the log (empty when gone). */
  data: Uint8Array;
  /** The entry parsed (once, for both row and output); undefined when gone. */
  value: unknown;
  /** Set when the entry's bytes were pruned or erased after it was indexed: only its row remains. */
  gone?: Gone;
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

const PARALLEL_BUNDLE_READS = 4;

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
 * The log's bytes for each row, in the rows' order. Throws IndexError("mismatch") naming the
 * entry when the log's bytes do not hash to the leaf hash the index recorded. An entry pruned
 * or erased since it was indexed comes back with `gone` and its index row.
 */
export async function resolveEntries(
  log: LogReader,
  rows: readonly IndexRow[],
  opts: ResolveOptions = {},
): Promise<ResolvedEntry[]> {
  const bytes = new Map<number, Uint8Array | Gone>();
  const wanted = new Set(rows.map((r) => r.idx));
  // An object's history or a narrow listing touches one bundle per entry: read several at a
  // time, as each read is a few file calls on libuv's pool (four threads) and a decompression.
  await settleEach(
    readRanges([...wanted]),
    async ({ start, end }) => {
      for await (const e of log.readEntries(start, end)) {
        if (wanted.has(e.index)) bytes.set(e.index, e.gone ?? e.data);
      }
    },
    PARALLEL_BUNDLE_READS,
  );
  return rows.map((row) => {
    const data = bytes.get(row.idx);
    if (data === undefined) {
      throw new IndexError("mismatch", `entry ${row.idx}: in the index but not readable from the log`);
    }
    if (!(data instanceof Uint8Array)) return { row, data: new Uint8Array(0), value: undefined, gone: data };
    const leaf = hashLeaf(data);
    if (!hashesEqual(leaf, row.leafHash)) {
      if (opts.keepMismatched) {
        const { row: fresh, value } = parsedEntry(row.idx, data, leaf);
        return { row: fresh, data, value, mismatch: true };
      }
      throw new IndexError(
        "mismatch",
        `entry ${row.idx}: the log's bytes do not match the index (run kubetrail reindex)`,
      );
    }
    const { row: fresh, value } = parsedEntry(row.idx, data, leaf);
    return { row: fresh, data, value };
  });
}
