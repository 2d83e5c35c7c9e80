// A run of consecutive integrated entries on its way to the index writer, in the cheapest form
// the indexer has each one: the row itself when ingest's parsed object is at hand (taking its
// fields is cheap), a receive worker's slim digest (the event without its bodies, as JSON), or
// the bytes read from the log. Structured-clonable: rows are made from it wherever the write
// connection is, so parsing the digests and the bytes happens on the writer's thread.
import type { EventDigest } from "../audit/event-digest.js";
import type { ParsedEntry } from "../detect/types.js";
import type { LogEntry } from "../store/types.js";
import { goneRow, rowFromEntry, rowFromValue, type IndexRow } from "./row.js";

/**
 * An entry to index: as read from the log (bytes, or gone), as bytes a receive worker parsed
 * (with its digest), or the very object ingest encoded into the log.
 */
export type IndexableEntry = (LogEntry & { digest?: EventDigest }) | ParsedEntry;

/** Bytes of a leaf hash (SHA-256). */
const LEAF_BYTES = 32;
const NO_LEAF = new Uint8Array(0);

export interface RowBatch {
  /** Log index of the first entry; the others follow on. */
  first: number;
  /** The leaf hashes of the entries, one after the other. */
  leaves: Uint8Array;
  /** Per entry: its row, its slim digest (JSON), or its stored bytes. */
  items: (IndexRow | string | Uint8Array)[];
  /** Per entry: its stored length in bytes (what a row from a digest reports). */
  lengths: number[];
}

/** The batch of `entries` (consecutive, from entries[0].index) with their leaf hashes. */
export function rowBatch(entries: readonly IndexableEntry[], leaves: readonly Uint8Array[]): RowBatch {
  const packed = new Uint8Array(entries.length * LEAF_BYTES);
  const items: RowBatch["items"] = [];
  const lengths: number[] = [];
  entries.forEach((e, i) => {
    packed.set(leaves[i]!, i * LEAF_BYTES);
    // Rows get their leaf from `leaves` where they are written: a hash read from a tile may be
    // a view of the whole tile, which posting the row would copy.
    if ("parsed" in e) {
      items.push(rowFromValue(e.index, e.parsed, NO_LEAF, 0));
      lengths.push(0);
    } else if (e.gone !== undefined) {
      items.push(goneRow(e.index, NO_LEAF, e.gone));
      lengths.push(0);
    } else {
      // A worker's digest holds the event without its bodies, which are most of the bytes to
      // parse and which the row does not need.
      items.push(e.digest?.withoutBodies ?? e.data);
      lengths.push(e.data.length);
    }
  });
  return { first: entries[0]?.index ?? 0, leaves: packed, items, lengths };
}

/** The index rows of a batch, parsing what came as a digest or as bytes. */
export function rowsOfBatch(batch: RowBatch): IndexRow[] {
  return batch.items.map((item, i) => {
    const idx = batch.first + i;
    const leaf = batch.leaves.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES);
    if (typeof item === "string") return rowFromValue(idx, JSON.parse(item), leaf, batch.lengths[i]!);
    if (item instanceof Uint8Array) return rowFromEntry(idx, item, leaf);
    return { ...item, leafHash: leaf };
  });
}
