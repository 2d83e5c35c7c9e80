// Cheap, well-mixed 64-bit fingerprints of dedupe keys (as two 32-bit halves): SHA-256 per event
// cost more than the rest of the lookup. Not a security boundary: a collision can only make an
// event be flagged as a duplicate-conflict, never dropped (a drop also needs the content hash).

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units with a seed, finished with murmur3's avalanche. */
export function hash32(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h ^ text.length);
}

export interface KeyPrint {
  hi: number;
  lo: number;
}

export function keyPrint(key: string): KeyPrint {
  return { hi: hash32(key, 0x9747b28c), lo: hash32(key, 0x5bd1e995) };
}
