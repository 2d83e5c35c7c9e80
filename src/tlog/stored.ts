// Storage-backed tree: every complete subtree hash is stored once, in the dense "stored hash"
// order of Crosby and Wallach (as in Go's sumdb/tlog), so a root or a proof needs only the
// O(log n) stored hashes of the complete subtrees that make up the ranges it covers.

import { isOdd, isSize, log2Exact, popCount, shr, splitPoint, trailingZeros } from "./arith.js";
import { TlogError } from "./errors.js";
import { type Hash, emptyTreeHash, hashLeaf, hashNode, isHash } from "./hash.js";

/** Reads stored hashes by their stored-hash index (see storedHashIndex). */
export interface HashReader {
  /** Must resolve to exactly one 32-byte hash per index, in the order asked. */
  readHashes(indexes: number[]): Promise<Hash[]>;
}

function invalid(message: string): TlogError {
  return new TlogError("invalid-proof-input", message);
}

/**
 * Position of the hash of the complete subtree at height `level` number `n` (leaf n is level 0
 * number n) in the dense stored-hash order: a node is stored right after the last leaf it covers.
 */
export function storedHashIndex(level: number, n: number): number {
  if (!isSize(level) || !isSize(n))
    throw invalid(`bad stored hash coordinates (${String(level)}, ${String(n)})`);
  // The last leaf under the node; the hashes stored up to and including it number
  // sum over j of floor(m / 2^j) = 2m - popcount(m).
  const m = (n + 1) * 2 ** level - 1;
  const index = 2 * m - popCount(m) + level;
  if (!Number.isSafeInteger(index)) throw invalid(`stored hash index of (${level}, ${n}) is too large`);
  return index;
}

/** The inverse of storedHashIndex. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  if (!isSize(index)) throw invalid(`bad stored hash index ${String(index)}`);
  // storedHashIndex(0, n) ≤ 2n, so the leaf written last before `index` is at least index/2
  // and at most log2(index) further on; each leaf n adds 1 + trailingZeros(n + 1) hashes.
  let n = Math.floor(index / 2);
  let indexN = storedHashIndex(0, n);
  for (;;) {
    const next = indexN + 1 + trailingZeros(n + 1);
    if (next > index) break;
    n++;
    indexN = next;
  }
  const level = index - indexN;
  return { level, n: shr(n, level) };
}

/** How many stored hashes a tree of `size` leaves has. */
export function storedHashCount(size: number): number {
  if (!isSize(size)) throw invalid(`bad tree size ${String(size)}`);
  if (size === 0) return 0;
  let count = storedHashIndex(0, size - 1) + 1;
  for (let i = size - 1; isOdd(i); i = shr(i, 1)) count++;
  return count;
}

/**
 * The hashes to store when appending leaf `n` with hash `leafHash`, to be written starting at
 * storedHashIndex(0, n): the leaf hash, then one hash per complete subtree the leaf closes.
 * Reads the left siblings of those subtrees from `reader`.
 */
export async function storedHashesForLeaf(n: number, leafHash: Hash, reader: HashReader): Promise<Hash[]> {
  if (!isSize(n)) throw invalid(`bad leaf index ${String(n)}`);
  if (!isHash(leafHash)) throw invalid(`leaf hash for leaf ${n} is not a 32-byte hash`);
  const siblings = await readHashesChecked(reader, closedSiblingIndexes(n));
  return closeSubtrees(leafHash, siblings);
}

// Leaf n closes one complete subtree per trailing one bit of n; these are the stored indexes of
// the left siblings it joins, highest level first (increasing stored order).
function closedSiblingIndexes(n: number): number[] {
  const indexes: number[] = [];
  for (let level = trailingZeros(n + 1) - 1; level >= 0; level--) {
    indexes.push(storedHashIndex(level, shr(n, level) - 1));
  }
  return indexes;
}

function closeSubtrees(leafHash: Hash, siblings: readonly Hash[]): Hash[] {
  const out = [leafHash];
  let h = leafHash;
  for (let i = siblings.length - 1; i >= 0; i--) {
    h = hashNode(siblings[i] as Hash, h);
    out.push(h);
  }
  return out;
}

/** Stored hashes for the given leaf data appended as leaf `n` (see storedHashesForLeaf). */
export function storedHashes(n: number, data: Uint8Array, reader: HashReader): Promise<Hash[]> {
  return storedHashesForLeaf(n, hashLeaf(data), reader);
}

/** Calls reader.readHashes and checks it kept its contract; throws TlogError("bad-hash-reader"). */
export async function readHashesChecked(reader: HashReader, indexes: number[]): Promise<Hash[]> {
  if (indexes.length === 0) return [];
  const hashes = await reader.readHashes(indexes);
  if (!Array.isArray(hashes) || hashes.length !== indexes.length) {
    throw new TlogError(
      "bad-hash-reader",
      `hash reader returned ${String(hashes?.length)} hashes for ${indexes.length} indexes`,
    );
  }
  hashes.forEach((h, i) => {
    if (!isHash(h))
      throw new TlogError(
        "bad-hash-reader",
        `hash reader returned a non-32-byte hash for stored index ${indexes[i]}`,
      );
  });
  return hashes;
}

/** A leaf range [lo, hi) whose Merkle tree hash is one element of a proof. */
type Range = readonly [lo: number, hi: number];

/**
 * Stored-hash indexes of the complete subtrees making up leaves [lo, hi), left to right. Ranges
 * in proofs (and [0, size)) always start on a boundary aligned to their largest subtree.
 */
export function subtreeIndexes(lo: number, hi: number): number[] {
  const out: number[] = [];
  if (!isSize(lo) || !isSize(hi) || lo > hi) throw invalid(`bad leaf range [${String(lo)}, ${String(hi)})`);
  while (lo < hi) {
    const k = splitPoint(hi - lo + 1);
    if (lo % k !== 0) throw invalid(`leaf range starting at ${lo} is not aligned to its ${k}-leaf subtree`);
    const level = log2Exact(k);
    out.push(storedHashIndex(level, lo / k));
    lo += k;
  }
  return out;
}

// Folds the subtree hashes of one range right to left, as RFC 6962's MTH does.
function foldRange(hashes: readonly Hash[]): Hash {
  let h = hashes[hashes.length - 1] as Hash;
  for (let i = hashes.length - 2; i >= 0; i--) h = hashNode(hashes[i] as Hash, h);
  return h;
}

// Reads every range's subtrees in one call and returns one hash per range.
async function hashRanges(ranges: readonly Range[], reader: HashReader): Promise<Hash[]> {
  const perRange = ranges.map(([lo, hi]) => subtreeIndexes(lo, hi));
  const hashes = await readHashesChecked(reader, perRange.flat());
  let at = 0;
  return perRange.map((indexes) => {
    const h = foldRange(hashes.slice(at, at + indexes.length));
    at += indexes.length;
    return h;
  });
}

// The ranges of PATH(m, D[lo:hi]), leaf to root.
function inclusionRanges(m: number, lo: number, hi: number): Range[] {
  if (hi - lo <= 1) return [];
  const k = splitPoint(hi - lo);
  if (m < lo + k) return [...inclusionRanges(m, lo, lo + k), [lo + k, hi]];
  return [...inclusionRanges(m, lo + k, hi), [lo, lo + k]];
}

// The ranges of SUBPROOF(m, D[lo:hi], lo == 0).
function consistencyRanges(m: number, lo: number, hi: number): Range[] {
  if (m === hi) return lo === 0 ? [] : [[lo, hi]];
  const k = splitPoint(hi - lo);
  if (m <= lo + k) return [...consistencyRanges(m, lo, lo + k), [lo + k, hi]];
  return [...consistencyRanges(m, lo + k, hi), [lo, lo + k]];
}

/** The root of the tree of `size` leaves, from at most 1 + log2(size) stored hashes. */
export async function treeHash(size: number, reader: HashReader): Promise<Hash> {
  if (!isSize(size)) throw invalid(`bad tree size ${String(size)}`);
  if (size === 0) return emptyTreeHash();
  const [root] = await hashRanges([[0, size]], reader);
  return root as Hash;
}

/** Same proof as inclusionProof(index, size, leaves), read from stored hashes in one call. */
export async function proveInclusion(size: number, index: number, reader: HashReader): Promise<Hash[]> {
  if (!isSize(size) || !isSize(index) || index >= size) {
    throw invalid(`leaf index ${String(index)} is not inside a tree of size ${String(size)}`);
  }
  return hashRanges(inclusionRanges(index, 0, size), reader);
}

/**
 * The inclusion proofs of many leaves in one tree, in the order of `indexes`, with one
 * reader call for all of them: a page of query answers shares most of its proofs' upper
 * hashes and tiles, which one call reads (and, for a tile reader, authenticates) once.
 */
export async function proveInclusions(
  size: number,
  indexes: readonly number[],
  reader: HashReader,
): Promise<Hash[][]> {
  const perIndex = indexes.map((index) => {
    if (!isSize(size) || !isSize(index) || index >= size) {
      throw invalid(`leaf index ${String(index)} is not inside a tree of size ${String(size)}`);
    }
    return inclusionRanges(index, 0, size).map(([lo, hi]) => subtreeIndexes(lo, hi));
  });
  // Neighbouring leaves share their upper proof hashes: each stored hash is read once.
  const unique = [...new Set(perIndex.flat(2))];
  const hashes = await readHashesChecked(reader, unique);
  const byIndex = new Map(unique.map((stored, i) => [stored, hashes[i] as Hash]));
  return perIndex.map((ranges) => ranges.map((ids) => foldRange(ids.map((id) => byIndex.get(id) as Hash))));
}

/** Same proof as consistencyProof(size1, size2, leaves), read from stored hashes in one call. */
export async function proveConsistency(size1: number, size2: number, reader: HashReader): Promise<Hash[]> {
  if (!isSize(size1) || !isSize(size2) || size1 > size2) {
    throw invalid(`old tree size ${String(size1)} is not between 0 and the new size ${String(size2)}`);
  }
  if (size1 === 0 || size1 === size2) return [];
  return hashRanges(consistencyRanges(size1, 0, size2), reader);
}

/** A HashReader over all stored hashes of the given leaves, kept in memory (tests, tools). */
export function memoryHashReader(leafHashes: readonly Hash[]): HashReader {
  const stored: Hash[] = [];
  const reader: HashReader = {
    readHashes: async (indexes) =>
      indexes.map((i) => {
        const h = stored[i];
        if (!h) throw invalid(`stored hash ${i} is beyond the ${leafHashes.length}-leaf tree`);
        return h;
      }),
  };
  leafHashes.forEach((leaf, n) => {
    if (!isHash(leaf)) throw invalid(`leaf hash ${n} is not a 32-byte hash`);
    const siblings = closedSiblingIndexes(n).map((i) => stored[i] as Hash);
    stored.push(...closeSubtrees(leaf, siblings));
  });
  return reader;
}
