// LogReader over any LogSource: a driver's reads, or a tlog-tiles server. Everything is read as
// of one signed checkpoint, so a reader beside a live writer sees one consistent log however
// far the writer gets meanwhile (a tile or bundle only ever grows: a wider version holds the
// same prefix).
import {
  openCheckpoint,
  TILE_WIDTH,
  tileHashReader,
  TlogError,
  type HashReader,
  type Tile,
  type TileReader,
  type Verifier,
} from "../tlog/index.js";
import { splitBundle } from "./bundle-format.js";
import type { LogSource } from "./driver.js";
import { LogError, type EntryBundle, type LogEntry, type LogReader, type SignedCheckpoint } from "./types.js";

/** Reads entries [from, width) of bundle `index` (LogSource.readEntrySpan). */
export type ReadEntrySpan = (index: number, from: number, width: number) => Promise<EntryBundle | null>;

/** `source`'s reads of some entries of a bundle: its own, else its whole-bundle reads. */
export function entrySpans(source: Pick<LogSource, "readEntryBundle" | "readEntrySpan">): ReadEntrySpan {
  return source.readEntrySpan !== undefined
    ? (index, from, width) => source.readEntrySpan!(index, from, width)
    : (index, _from, width) => source.readEntryBundle(index, width);
}

/** Number of leaves a tile's hashes cover: a tile beyond the checkpoint's tree is not part of it. */
export function leavesCovered(tile: Tile): bigint {
  return (
    (BigInt(tile.index) * BigInt(TILE_WIDTH) + BigInt(tile.width)) * BigInt(TILE_WIDTH) ** BigInt(tile.level)
  );
}

/** Whether bundle `index` at `width` lies within a tree of `size` entries. */
export function bundleWithin(index: number, width: number, size: number): boolean {
  return index * TILE_WIDTH + width <= size;
}

/**
 * Entries [start, end) read bundle by bundle from `read`; a pruned bundle's entries and erased
 * lines are reported as gone. A missing bundle, or one holding another number of entries, is
 * a LogError("corrupt") naming it.
 */
export async function* readEntriesFrom(
  read: ReadEntrySpan,
  start: number,
  end: number,
): AsyncIterable<LogEntry> {
  for (let index = start; index < end;) {
    const bundle = Math.floor(index / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, end - bundle * TILE_WIDTH);
    const got = await read(bundle, index - bundle * TILE_WIDTH, width);
    if (got === null) {
      throw new LogError("corrupt", `entry bundle ${bundle} (entries ${bundle * TILE_WIDTH}…) is missing`);
    }
    if (got.gone !== undefined) {
      for (; index < bundle * TILE_WIDTH + width; index++) yield { index, gone: got.gone };
      continue;
    }
    let lines: Uint8Array[];
    try {
      lines = splitBundle(got.data);
    } catch (err) {
      throw new LogError("corrupt", `entry bundle ${bundle}: ${(err as Error).message}`, { cause: err });
    }
    const first = got.first ?? 0;
    if (lines.length !== width - first || first > index - bundle * TILE_WIDTH) {
      throw new LogError(
        "corrupt",
        `entry bundle ${bundle} holds ${lines.length} entries from entry ${first}, expected ${width - first}`,
      );
    }
    for (let i = index - bundle * TILE_WIDTH; i < width; i++, index++) {
      const data = lines[i - first]!;
      if (data.length > 0) yield { index, data };
      else yield { index, gone: { state: "erased", reason: got.erased?.get(i) ?? "erased" } };
    }
  }
}

/** The tiles of `source` as a tlog TileReader: a missing tile is a LogError("corrupt") naming it. */
export function sourceTileReader(readTile: (tile: Tile) => Promise<Uint8Array | null>): TileReader {
  return {
    readTiles: async (tiles) =>
      Promise.all(
        tiles.map(async (t) => {
          const data = await readTile(t);
          if (data === null) throw new LogError("corrupt", `hash tile ${t.level}/${t.index} is missing`);
          return data;
        }),
      ),
  };
}

export interface ReaderOptions {
  /**
   * Check every tile read for proofs against the checkpoint's root (an untrusted source). The
   * log's own storage is read without: its tiles were checked when the log opened.
   */
  authenticateTiles?: boolean;
}

/** A LogReader of `source` pinned at `checkpoint`. */
export function readerAt(
  source: LogSource,
  checkpoint: SignedCheckpoint,
  opts: ReaderOptions = {},
): LogReader {
  const size = checkpoint.size;
  const readTile = (tile: Tile): Promise<Uint8Array | null> =>
    leavesCovered(tile) > BigInt(size) ? Promise.resolve(null) : source.readTile(tile);
  const readEntryBundle = (index: number, width: number): Promise<EntryBundle | null> =>
    bundleWithin(index, width, size) ? source.readEntryBundle(index, width) : Promise.resolve(null);
  const spans = entrySpans(source);
  const readEntrySpan: ReadEntrySpan = (index, from, width) =>
    bundleWithin(index, width, size) ? spans(index, from, width) : Promise.resolve(null);
  const tiles = sourceTileReader(readTile);
  return {
    origin: checkpoint.origin,
    size: () => size,
    latestCheckpoint: () => checkpoint,
    readTile,
    readEntryBundle,
    readEncodedBundle: async (index) =>
      bundleWithin(index, TILE_WIDTH, size) ? ((await source.readEncodedBundle?.(index)) ?? null) : null,
    readEntries(start: number, end: number): AsyncIterable<LogEntry> {
      if (start < 0 || end > size || start > end) {
        throw new LogError("invalid", `entries [${start}, ${end}) are outside the log of ${size}`);
      }
      return readEntriesFrom(readEntrySpan, start, end);
    },
    hashReader: (): HashReader =>
      tileHashReader(size, tiles, opts.authenticateTiles ? checkpoint.rootHash : undefined),
  };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads and verifies the checkpoint `source` holds with `verifiers` (the log's key, and any
 * cosigners). Throws LogError("corrupt") when there is none, or when it does not verify (the
 * TlogError as its cause).
 */
export async function readSignedCheckpoint(
  source: Pick<LogSource, "where" | "readCheckpoint">,
  verifiers: Verifier | readonly Verifier[],
): Promise<SignedCheckpoint | null> {
  const bytes = await source.readCheckpoint();
  if (bytes === null) return null;
  try {
    const note = decoder.decode(bytes);
    const cp = openCheckpoint(note, verifiers);
    return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note };
  } catch (err) {
    const why = err instanceof TlogError ? err.message : "not valid UTF-8";
    throw new LogError("corrupt", `${source.where}: checkpoint: ${why}`, { cause: err });
  }
}

/**
 * The log `source` holds, as of its latest checkpoint, which must verify with `verifiers`.
 * Throws LogError("corrupt") when the log has no checkpoint or it does not verify.
 */
export async function openLogReader(
  source: LogSource,
  verifiers: Verifier | readonly Verifier[],
  opts: ReaderOptions = {},
): Promise<LogReader> {
  const checkpoint = await readSignedCheckpoint(source, verifiers);
  if (checkpoint === null)
    throw new LogError("corrupt", `${source.where}: no checkpoint yet (the log has never been integrated)`);
  return readerAt(source, checkpoint, opts);
}
