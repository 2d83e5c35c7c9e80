import { hash } from "node:crypto";

/** A SHA-256 Merkle tree hash: always exactly HASH_SIZE bytes. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

// One-shot hashing of a prepared buffer is markedly faster than a streaming Hash object, and
// proofs and tile checks hash thousands of nodes.
function sha256(input: Uint8Array): Hash {
  return new Uint8Array(hash("sha256", input, "buffer"));
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). The prefix keeps leaves and nodes from colliding. */
export function hashLeaf(data: Uint8Array): Hash {
  const input = new Uint8Array(1 + data.length);
  input.set(data, 1); // input[0] is already 0x00
  return sha256(input);
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashNode(left: Hash, right: Hash): Hash {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input);
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
