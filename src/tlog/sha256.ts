// SHA-256 of a prepared buffer, Node's way. The browser build of the UI swaps this module for
// sha256.browser.ts (web/vite.config.ts): the rest of the library is the same code in both.
import { hash } from "node:crypto";

/** Digest size of SHA-256 in bytes. */
export const SHA256_SIZE = 32;

// One-shot hashing of a prepared buffer is markedly faster than a streaming Hash object, and
// proofs and tile checks hash thousands of nodes. Node's "buffer" output costs about a
// microsecond more per call than a string (it allocates the result through C++), which is most
// of the cost for an interior node. So the digest comes back as a 32-character "binary"
// (latin1) string, one character per byte, copied into a fresh array here.
export function sha256(input: Uint8Array): Uint8Array {
  const digest = hash("sha256", input, "binary");
  const out = new Uint8Array(SHA256_SIZE);
  for (let i = 0; i < SHA256_SIZE; i++) out[i] = digest.charCodeAt(i);
  return out;
}

/** sha256(input) written into `out` at byte `at`: no array per digest, for hashing in bulk. */
export function sha256Into(input: Uint8Array, out: Uint8Array, at: number): void {
  const digest = hash("sha256", input, "binary");
  for (let i = 0; i < SHA256_SIZE; i++) out[at + i] = digest.charCodeAt(i);
}
