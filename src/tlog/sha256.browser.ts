// SHA-256 for the browser build of the UI (web/vite.config.ts puts this module in place of
// sha256.ts). WebCrypto only hashes asynchronously, and the proof verifiers are synchronous,
// so the digest comes from @noble/hashes, an audited pure-JavaScript implementation.
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

export const SHA256_SIZE = 32;

export function sha256(input: Uint8Array): Uint8Array {
  return nobleSha256(input);
}

export function sha256Into(input: Uint8Array, out: Uint8Array, at: number): void {
  out.set(nobleSha256(input), at);
}
