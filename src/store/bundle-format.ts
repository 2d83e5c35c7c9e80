// kubetrail's entry bundles: up to 256 entries, each one line of JSON ending in "\n".
// (C2SP tlog-tiles length-prefixes entries instead; audit events can exceed 64 KiB and a
// JSON-lines bundle stays readable with standard tools.)

import { HASH_SIZE, writeLeafHash } from "../tlog/hash.js";

const NL = 0x0a;

/** A Buffer view of the same bytes: its indexOf is memchr, a plain typed array's a slow generic loop. */
function searchable(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Rejects entries that would break the one-entry-per-line framing. */
export function checkEntry(entry: Uint8Array): string | null {
  if (entry.length === 0) return "empty entry";
  if (searchable(entry).indexOf(NL) !== -1) return "entry contains a newline byte";
  return null;
}

/**
 * Splits bundle bytes into entries. Throws when the bundle does not end in a newline: a
 * full or published bundle never does, so that is damage, not a format variant.
 */
export function splitBundle(bundle: Uint8Array): Uint8Array[] {
  const data = searchable(bundle);
  const out: Uint8Array[] = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(NL, start);
    if (nl === -1) throw new Error(`bundle ends without a newline after ${out.length} entries`);
    out.push(data.subarray(start, nl));
    start = nl + 1;
  }
  return out;
}

/**
 * The leaf hashes of a bundle's entries, 32 bytes each, concatenated, in memory of their own
 * (so a worker can transfer it). Throws when the bundle does not end in a newline. The
 * positions of empty lines (erased entries) are added to `empty`, when given.
 */
export function bundleLeafHashes(bundle: Uint8Array, empty?: number[]): Buffer {
  const data = searchable(bundle);
  const count = countLines(data);
  if (count === null) throw new Error("bundle ends without a newline");
  const out = Buffer.from(new ArrayBuffer(count * HASH_SIZE));
  for (let i = 0, start = 0; i < count; i++) {
    const nl = data.indexOf(NL, start);
    if (nl === start) empty?.push(i);
    writeLeafHash(out, i * HASH_SIZE, data.subarray(start, nl));
    start = nl + 1;
  }
  return out;
}

/** The number of lines of a bundle, or null when it does not end with a newline (it is cut). */
export function countLines(bundle: Uint8Array): number | null {
  const data = searchable(bundle);
  if (data.length > 0 && data[data.length - 1] !== NL) return null;
  let count = 0;
  for (let nl = data.indexOf(NL); nl !== -1; nl = data.indexOf(NL, nl + 1)) count++;
  return count;
}

/**
 * Where a bundle cut into groups of `lines` lines ends each group: the offset after every
 * `lines`-th newline, and the end of the bundle (the last group takes the rest).
 */
export function groupEnds(bundle: Uint8Array, lines: number): number[] {
  const data = searchable(bundle);
  const ends: number[] = [];
  let seen = 0;
  for (let nl = data.indexOf(NL); nl !== -1; nl = data.indexOf(NL, nl + 1)) {
    if (++seen % lines === 0) ends.push(nl + 1);
  }
  if (ends.length === 0 || ends[ends.length - 1] !== data.length) ends.push(data.length);
  return ends;
}

/**
 * Which of `needles` occur in a bundle: cheap searches a reader makes before it looks closer
 * (done where the bytes are hashed, so a verifier's main thread need not pass over them again).
 */
export function bundleHolds(bundle: Uint8Array, needles: readonly string[]): boolean[] {
  const data = searchable(bundle);
  return needles.map((n) => data.indexOf(n) !== -1);
}

/** The first `count` lines of a bundle, or null when it has fewer. */
export function bundlePrefix(bundle: Uint8Array, count: number): Uint8Array | null {
  const data = searchable(bundle);
  let end = 0;
  for (let i = 0; i < count; i++) {
    const nl = data.indexOf(NL, end);
    if (nl === -1) return null;
    end = nl + 1;
  }
  return data.subarray(0, end);
}

/** The size of entries joined into bundle bytes. */
export function joinedSize(entries: readonly Uint8Array[]): number {
  let total = 0;
  for (const e of entries) total += e.length + 1;
  return total;
}

/**
 * Joins entries into bundle bytes (each followed by a newline), into `out` (joinedSize bytes)
 * or else an ArrayBuffer of their own (never Buffer's shared pool).
 */
export function joinEntries(
  entries: readonly Uint8Array[],
  out: Buffer = Buffer.allocUnsafeSlow(joinedSize(entries)),
): Buffer {
  let off = 0;
  for (const e of entries) {
    out.set(e, off);
    off += e.length;
    out[off++] = NL;
  }
  return out;
}
