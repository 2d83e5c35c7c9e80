import { sha256 } from "./sha256.js";

/** A SHA-256 Merkle tree hash: always exactly HASH_SIZE bytes. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

// Leaf input (0x00 ‖ data) is assembled in one reused buffer: ingest hashes every event,
// and a fresh zero-filled copy per call cost more than the hashing of a small one.
const LEAF_SCRATCH_MAX = 1 << 20;
let leafInput = new Uint8Array(1 << 16);

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). The prefix keeps leaves and nodes from colliding. */
export function hashLeaf(data: Uint8Array): Hash {
  if (leafInput.length < 1 + data.length) {
    // A rare very large entry gets a buffer of its own rather than growing the kept one.
    if (1 + data.length > LEAF_SCRATCH_MAX) {
      const input = new Uint8Array(1 + data.length);
      input.set(data, 1); // input[0] is already 0x00
      return sha256(input);
    }
    leafInput = new Uint8Array(LEAF_SCRATCH_MAX);
  }
  leafInput[0] = 0x00;
  leafInput.set(data, 1);
  return sha256(leafInput.subarray(0, 1 + data.length));
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
