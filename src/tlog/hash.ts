import { sha256, sha256Into } from "./sha256.js";

/** A SHA-256 Merkle tree hash: always exactly HASH_SIZE bytes. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

// Leaf input (0x00 ‖ data) is assembled in one reused buffer: ingest hashes every event,
// and a fresh zero-filled copy per call cost more than the hashing of a small one.
const LEAF_SCRATCH_MAX = 1 << 20;
let leafInput = new Uint8Array(1 << 16);

/** 0x00 ‖ data, in the reused buffer when it fits (valid until the next call). */
function leafInputOf(data: Uint8Array): Uint8Array {
  if (leafInput.length < 1 + data.length) {
    // A rare very large entry gets a buffer of its own rather than growing the kept one.
    if (1 + data.length > LEAF_SCRATCH_MAX) {
      const input = new Uint8Array(1 + data.length);
      input.set(data, 1); // input[0] is already 0x00
      return input;
    }
    leafInput = new Uint8Array(LEAF_SCRATCH_MAX);
  }
  leafInput[0] = 0x00;
  leafInput.set(data, 1);
  return leafInput.subarray(0, 1 + data.length);
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). The prefix keeps leaves and nodes from colliding. */
export function hashLeaf(data: Uint8Array): Hash {
  return sha256(leafInputOf(data));
}

/**
 * hashLeaf(data) written into `out` at `at`, with no array per hash: for hashing many leaves
 * into one buffer (a bundle's leaf hashes on a worker thread).
 */
export function writeLeafHash(out: Uint8Array, at: number, data: Uint8Array): void {
  sha256Into(leafInputOf(data), out, at);
}

// Interior nodes are the most frequent hash (one per leaf when building tiles): their input
// is assembled in one reused buffer instead of a new one per call (hashing is synchronous).
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashNode(left: Hash, right: Hash): Hash {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    const input = new Uint8Array(1 + left.length + right.length);
    input[0] = 0x01;
    input.set(left, 1);
    input.set(right, 1 + left.length);
    return sha256(input);
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/**
 * The RFC 6962 root of each run of `width` hashes in `hashes` (32 bytes each, concatenated;
 * `width` a power of two, so each run is a perfect tree): the roots of full tiles. Hashes
 * level by level into reused buffers, without an array per node.
 */
export function perfectTreeRoots(hashes: Uint8Array, width: number): Uint8Array {
  const runBytes = width * HASH_SIZE;
  if (width < 1 || (width & (width - 1)) !== 0 || hashes.length % runBytes !== 0) {
    throw new RangeError(`${hashes.length} bytes are not whole runs of ${width} hashes (a power of two)`);
  }
  const roots = new Uint8Array(hashes.length / width);
  const scratch = new Uint8Array(runBytes / 2);
  for (let t = 0; t * runBytes < hashes.length; t++) {
    let row = hashes.subarray(t * runBytes, (t + 1) * runBytes);
    if (width === 1) roots.set(row, t * HASH_SIZE);
    for (let n = width / 2; n >= 1; n /= 2) {
      // Each level is written over the start of the scratch buffer: node i reads pairs 2i, 2i+1 only.
      const up =
        n === 1 ? roots.subarray(t * HASH_SIZE, (t + 1) * HASH_SIZE) : scratch.subarray(0, n * HASH_SIZE);
      for (let i = 0; i < n; i++) {
        nodeInput.set(row.subarray(i * 2 * HASH_SIZE, (i + 1) * 2 * HASH_SIZE), 1);
        sha256Into(nodeInput, up, i * HASH_SIZE);
      }
      row = up;
    }
  }
  return roots;
}

/** The root of the empty tree, SHA-256 of the empty string (RFC 6962 section 2.1). */
export function emptyTreeHash(): Hash {
  return sha256(new Uint8Array(0));
}

/** True when `h` is a byte array of exactly HASH_SIZE bytes. */
export function isHash(h: unknown): h is Hash {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

/** Byte equality of two hashes; false (never a throw) when either is not a 32-byte hash. */
export function hashesEqual(a: Hash, b: Hash): boolean {
  if (!isHash(a) || !isHash(b)) return false;
  for (let i = 0; i < HASH_SIZE; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}
