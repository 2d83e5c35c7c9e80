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

/** The signed 64-bit integer SQLite stores for a fingerprint. */
export function printToInt64(p: KeyPrint): bigint {
  return BigInt.asIntN(64, (BigInt(p.hi) << 32n) | BigInt(p.lo));
}

export function int64ToPrint(v: bigint): KeyPrint {
  const u = BigInt.asUintN(64, v);
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}

/**
 * A fixed-size Bloom filter over fingerprints: "absent" is certain, "present" may be wrong. Fixed
 * size keeps memory flat; as it fills, only the false-positive rate (extra lookups) grows.
 */
export class PrintFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(
    log2Bits = 27,
    private readonly probes = 4,
  ) {
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = 2 ** log2Bits - 1;
  }

  add(p: KeyPrint): void {
    for (let i = 0; i < this.probes; i++) {
      const bit = (p.hi + Math.imul(i, p.lo | 1)) & this.mask;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mayContain(p: KeyPrint): boolean {
    for (let i = 0; i < this.probes; i++) {
      const bit = (p.hi + Math.imul(i, p.lo | 1)) & this.mask;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}
