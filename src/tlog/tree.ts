// In-memory Merkle tree over a full list of leaf hashes, written directly from the RFC 6962
// definitions (MTH, PATH, PROOF) and verified with the RFC 9162 algorithms. The storage-backed
// builders in stored.ts use a different route to the same proofs, so each checks the other.

import { isOdd, isPowerOfTwo, isSize, shr, splitPoint } from "./arith.js";
import { TlogError } from "./errors.js";
import { type Hash, emptyTreeHash, hashNode, hashesEqual, isHash } from "./hash.js";

function invalid(message: string): TlogError {
  return new TlogError("invalid-proof-input", message);
}

function checkLeaves(leafHashes: readonly Hash[], size: number): void {
  if (!isSize(size) || size > leafHashes.length) {
    throw invalid(
      `tree size ${String(size)} is not between 0 and the ${leafHashes.length} leaf hashes given`,
    );
  }
  for (let i = 0; i < size; i++) {
    if (!isHash(leafHashes[i])) throw invalid(`leaf hash ${i} is not a 32-byte hash`);
  }
}

// MTH(D[lo:hi]); callers have checked the leaves.
function subtreeHash(leaves: readonly Hash[], lo: number, hi: number): Hash {
  const n = hi - lo;
  if (n === 0) return emptyTreeHash();
  if (n === 1) return leaves[lo] as Hash;
  const k = splitPoint(n);
  return hashNode(subtreeHash(leaves, lo, lo + k), subtreeHash(leaves, lo + k, hi));
}

/** The RFC 6962 Merkle tree hash of all the given leaves; the empty tree is SHA-256(""). */
export function rootFromLeafHashes(leafHashes: readonly Hash[]): Hash {
  checkLeaves(leafHashes, leafHashes.length);
  return subtreeHash(leafHashes, 0, leafHashes.length);
}

// PATH(m, D[lo:hi]) with m an absolute index.
function path(leaves: readonly Hash[], m: number, lo: number, hi: number): Hash[] {
  if (hi - lo <= 1) return [];
  const k = splitPoint(hi - lo);
  if (m < lo + k) return [...path(leaves, m, lo, lo + k), subtreeHash(leaves, lo + k, hi)];
  return [...path(leaves, m, lo + k, hi), subtreeHash(leaves, lo, lo + k)];
}

/**
 * The RFC 6962 audit path proving leaf `index` is in the tree made of the first `size` leaves.
 * Throws TlogError("invalid-proof-input") unless 0 ≤ index < size ≤ leafHashes.length.
 */
export function inclusionProof(index: number, size: number, leafHashes: readonly Hash[]): Hash[] {
  checkLeaves(leafHashes, size);
  if (!isSize(index) || index >= size) {
    throw invalid(`leaf index ${String(index)} is not inside a tree of size ${size}`);
  }
  return path(leafHashes, index, 0, size);
}

// SUBPROOF(m, D[lo:hi], whole) with m an absolute size.
function subproof(leaves: readonly Hash[], m: number, lo: number, hi: number, whole: boolean): Hash[] {
  if (m === hi) return whole ? [] : [subtreeHash(leaves, lo, hi)];
  const k = splitPoint(hi - lo);
  if (m <= lo + k) return [...subproof(leaves, m, lo, lo + k, whole), subtreeHash(leaves, lo + k, hi)];
  return [...subproof(leaves, m, lo + k, hi, false), subtreeHash(leaves, lo, lo + k)];
}

/**
 * The RFC 6962 consistency proof that the tree of the first `size1` leaves is a prefix of the
 * tree of the first `size2`. Empty when size1 is 0 or equals size2. Throws
 * TlogError("invalid-proof-input") unless 0 ≤ size1 ≤ size2 ≤ leafHashes.length.
 */
export function consistencyProof(size1: number, size2: number, leafHashes: readonly Hash[]): Hash[] {
  checkLeaves(leafHashes, size2);
  if (!isSize(size1) || size1 > size2) {
    throw invalid(`old tree size ${String(size1)} is not between 0 and the new size ${size2}`);
  }
  if (size1 === 0 || size1 === size2) return [];
  return subproof(leafHashes, size1, 0, size2, true);
}

function allHashes(proof: readonly Hash[]): boolean {
  return Array.isArray(proof) && proof.every(isHash);
}

// The RFC 9162 verifiers walk two node numbers up the tree: fn, the node on the path being
// proven, and sn, the last node of the tree at the same level.
class Walk {
  constructor(
    public fn: number,
    public sn: number,
  ) {}

  up(): void {
    this.fn = shr(this.fn, 1);
    this.sn = shr(this.sn, 1);
  }

  // Right-edge nodes with no right sibling are promoted unchanged: skip those levels.
  upWhileLeftChild(): void {
    while (!isOdd(this.fn) && this.fn !== 0) this.up();
  }

  // The proof hash joins on the left when fn is a right child or the lone last node.
  siblingOnLeft(): boolean {
    return isOdd(this.fn) || this.fn === this.sn;
  }
}

/**
 * True only if `proof` proves that `leafHash` is leaf `index` of the tree of `size` leaves whose
 * root is `root` (RFC 9162 section 2.1.3.2). Any malformed input gives false.
 */
export function verifyInclusion(
  leafHash: Hash,
  index: number,
  size: number,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  if (!isHash(leafHash) || !isHash(root) || !allHashes(proof)) return false;
  if (!isSize(index) || !isSize(size) || index >= size) return false;
  const walk = new Walk(index, size - 1);
  let r = leafHash;
  for (const p of proof) {
    if (walk.sn === 0) return false;
    if (walk.siblingOnLeft()) {
      r = hashNode(p, r);
      walk.upWhileLeftChild();
    } else {
      r = hashNode(r, p);
    }
    walk.up();
  }
  return walk.sn === 0 && hashesEqual(r, root);
}

/**
 * True only if `proof` proves that the tree of `size1` leaves with root `root1` is a prefix of
 * the tree of `size2` leaves with root `root2` (RFC 9162 section 2.1.4.2). A size-0 tree must
 * have the empty-tree root and an empty proof; equal sizes need equal roots and an empty proof.
 * Any malformed input gives false.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Hash[],
  root1: Hash,
  root2: Hash,
): boolean {
  if (!isHash(root1) || !isHash(root2) || !allHashes(proof)) return false;
  if (!isSize(size1) || !isSize(size2) || size1 > size2) return false;
  if (size1 === 0) return proof.length === 0 && hashesEqual(root1, emptyTreeHash());
  if (size1 === size2) return proof.length === 0 && hashesEqual(root1, root2);
  if (proof.length === 0) return false;

  // When size1 is a power of two the old root is itself a node of the new tree and is left out
  // of the proof, so the walk starts from it.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  const walk = new Walk(size1 - 1, size2 - 1);
  while (isOdd(walk.fn)) walk.up();
  let fr = path[0] as Hash;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (walk.sn === 0) return false;
    if (walk.siblingOnLeft()) {
      fr = hashNode(c, fr);
      sr = hashNode(c, sr);
      walk.upWhileLeftChild();
    } else {
      sr = hashNode(sr, c);
    }
    walk.up();
  }
  return walk.sn === 0 && hashesEqual(fr, root1) && hashesEqual(sr, root2);
}
