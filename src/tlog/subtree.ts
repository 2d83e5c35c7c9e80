// Subtrees and subtree consistency proofs (draft-ietf-plants-merkle-tree-certs, section 4,
// used by C2SP tlog-mirror's add-entries): the Merkle tree hash of leaves [start, end) as an
// independent tree, and a proof that those leaves are the same leaves in a tree of n.
//
// A subtree [start, end) is valid when start is a multiple of BIT_CEIL(end - start); then its
// hash is built from complete nodes of the big tree (and its right edge), which is what makes
// the proof possible. [0, n) is an ordinary tree and its proof an RFC 6962 consistency proof;
// [i, i + 1) is a single leaf and its proof an inclusion proof.

import { isOdd, isSize, shr, splitPoint } from "./arith.js";
import { TlogError } from "./errors.js";
import { type Hash, emptyTreeHash, hashNode, hashesEqual, isHash } from "./hash.js";
import { type HashReader, readHashesChecked, subtreeIndexes } from "./stored.js";

function invalid(message: string): TlogError {
  return new TlogError("invalid-proof-input", message);
}

/** The smallest power of two ≥ n (1 for 0). */
function bitCeil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** True when [start, end) is a subtree: 0 ≤ start ≤ end and start is a multiple of BIT_CEIL(end - start). */
export function isValidSubtree(start: number, end: number): boolean {
  if (!isSize(start) || !isSize(end) || start > end) return false;
  return start % bitCeil(end - start) === 0;
}

function checkSubtree(start: number, end: number, n: number): void {
  if (!isValidSubtree(start, end) || !isSize(n) || end > n) {
    throw invalid(`[${String(start)}, ${String(end)}) is not a subtree of a tree of size ${String(n)}`);
  }
}

// MTH(D[lo:hi]) over leaf hashes in memory.
function rangeHash(leaves: readonly Hash[], lo: number, hi: number): Hash {
  if (hi === lo) return emptyTreeHash();
  if (hi - lo === 1) return leaves[lo] as Hash;
  const k = splitPoint(hi - lo);
  return hashNode(rangeHash(leaves, lo, lo + k), rangeHash(leaves, lo + k, hi));
}

/** MTH(D[start:end]) of leaf hashes held in memory (the subtree as an independent tree). */
export function subtreeHashFromLeaves(start: number, end: number, leafHashes: readonly Hash[]): Hash {
  checkSubtree(start, end, leafHashes.length);
  return rangeHash(leafHashes, start, end);
}

/** A leaf range whose Merkle tree hash is one element of a proof. */
type Range = readonly [lo: number, hi: number];

// The ranges of SUBTREE_SUBPROOF(start, end, D[lo:hi], whole) with absolute indexes, in proof order.
function subproofRanges(start: number, end: number, lo: number, hi: number, whole: boolean): Range[] {
  if (start === lo && end === hi) return whole ? [] : [[lo, hi]];
  const k = splitPoint(hi - lo);
  if (end <= lo + k) return [...subproofRanges(start, end, lo, lo + k, whole), [lo + k, hi]];
  if (lo + k <= start) return [...subproofRanges(start, end, lo + k, hi, whole), [lo, lo + k]];
  // start < lo + k < end, which only a subtree starting at lo can do.
  return [...subproofRanges(lo + k, end, lo + k, hi, false), [lo, lo + k]];
}

function proofRanges(start: number, end: number, n: number): Range[] {
  checkSubtree(start, end, n);
  return start === end ? [] : subproofRanges(start, end, 0, n, true);
}

/**
 * SUBTREE_PROOF(start, end, D_n) over leaf hashes in memory: proves the leaves [start, end),
 * hashed as an independent tree, are leaves start…end-1 of the tree of the first n leaves.
 */
export function subtreeConsistencyProof(
  start: number,
  end: number,
  n: number,
  leafHashes: readonly Hash[],
): Hash[] {
  if (!isSize(n) || n > leafHashes.length)
    throw invalid(`tree size ${String(n)} is beyond the ${leafHashes.length} leaf hashes given`);
  return proofRanges(start, end, n).map(([lo, hi]) => rangeHash(leafHashes, lo, hi));
}

/**
 * The same proof as subtreeConsistencyProof, read from stored hashes in one call (a tree of n
 * leaves must be stored; see stored.ts).
 */
export async function proveSubtreeConsistency(
  start: number,
  end: number,
  n: number,
  reader: HashReader,
): Promise<Hash[]> {
  const ranges = proofRanges(start, end, n);
  const perRange = ranges.map(([lo, hi]) => subtreeIndexes(lo, hi));
  const hashes = await readHashesChecked(reader, perRange.flat());
  let at = 0;
  return perRange.map((indexes) => {
    const mine = hashes.slice(at, at + indexes.length);
    at += indexes.length;
    let h = mine[mine.length - 1] as Hash;
    for (let i = mine.length - 2; i >= 0; i--) h = hashNode(mine[i] as Hash, h);
    return h;
  });
}

/** MTH(D[start:end]) read from stored hashes (the subtree of a stored tree). */
export async function storedSubtreeHash(start: number, end: number, reader: HashReader): Promise<Hash> {
  checkSubtree(start, end, end);
  if (start === end) return emptyTreeHash();
  const hashes = await readHashesChecked(reader, subtreeIndexes(start, end));
  let h = hashes[hashes.length - 1] as Hash;
  for (let i = hashes.length - 2; i >= 0; i--) h = hashNode(hashes[i] as Hash, h);
  return h;
}

/**
 * True only if `proof` shows that the subtree [start, end) whose hash is `nodeHash` is made of
 * the leaves start…end-1 of the tree of `n` leaves whose root is `rootHash` (the draft's
 * section 4.4.3). Any malformed input gives false.
 */
export function verifySubtreeConsistency(
  start: number,
  end: number,
  n: number,
  proof: readonly Hash[],
  nodeHash: Hash,
  rootHash: Hash,
): boolean {
  if (!isHash(nodeHash) || !isHash(rootHash) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  if (!isValidSubtree(start, end) || !isSize(n) || end > n) return false;
  if (start === end) return proof.length === 0 && hashesEqual(nodeHash, emptyTreeHash());
  let fn = start;
  let sn = end - 1;
  let tn = n - 1;
  const up = (): void => {
    fn = shr(fn, 1);
    sn = shr(sn, 1);
    tn = shr(tn, 1);
  };
  // Climb while the subtree's nodes are also nodes of the big tree.
  if (sn === tn) {
    while (fn !== sn) up();
  } else {
    while (fn !== sn && isOdd(sn)) up();
  }
  let rest = proof;
  let fr: Hash;
  if (fn === sn) {
    fr = nodeHash;
  } else {
    if (rest.length === 0) return false;
    fr = rest[0] as Hash;
    rest = rest.slice(1);
  }
  let sr = fr;
  for (const c of rest) {
    if (tn === 0) return false;
    if (isOdd(sn) || sn === tn) {
      if (fn < sn) fr = hashNode(c, fr);
      sr = hashNode(c, sr);
      while (!isOdd(sn) && sn > 0) up();
    } else {
      sr = hashNode(sr, c);
    }
    up();
  }
  return tn === 0 && hashesEqual(fr, nodeHash) && hashesEqual(sr, rootHash);
}
