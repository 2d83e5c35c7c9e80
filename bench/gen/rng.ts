// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so generated data is
// byte-identical for a seed on every machine and Node version; Math.random cannot be seeded.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Exponentially distributed value with the given mean (inter-arrival gaps, latencies). */
  exp(mean: number): number;
  /** n lowercase hex digits. */
  hex(n: number): string;
  /** n characters from [a-z0-9], as in Kubernetes generated name suffixes. */
  alnum(n: number): string;
  /** A random (version 4) UUID, as the apiserver uses for auditID. */
  uuid(): string;
}

const ALNUM = "bcdfghjklmnpqrstvwxz2456789"; // the alphabet of k8s utilrand.String

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function makeRng(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new RangeError(`rng seed must be an integer, got ${seed}`);
  const sm = splitmix32(seed);
  let a = sm();
  let b = sm();
  let c = sm();
  let d = sm();
  if ((a | b | c | d) === 0) a = 1;
  const u32 = (): number => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return r;
  };
  const next = (): number => u32() / 4294967296;
  const int = (n: number): number => Math.floor(next() * n);
  const hex = (n: number): string => {
    let out = "";
    while (out.length < n) out += u32().toString(16).padStart(8, "0");
    return out.slice(0, n);
  };
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError("rng.pick from an empty list");
      return items[int(items.length)] as T;
    },
    exp: (mean) => -Math.log(1 - next()) * mean,
    hex,
    alnum: (n) => {
      let out = "";
      for (let i = 0; i < n; i++) out += ALNUM[int(ALNUM.length)];
      return out;
    },
    uuid: () => {
      const h = hex(32);
      const variant = ((parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A weighted choice over a fixed table, precomputed so each draw is one binary search. */
export function weighted<T>(items: readonly (readonly [T, number])[]): (rng: Rng) => T {
  if (items.length === 0) throw new RangeError("weighted: empty table");
  const cum: number[] = [];
  let total = 0;
  for (const [, w] of items) {
    if (!(w > 0)) throw new RangeError(`weighted: weights must be positive, got ${w}`);
    total += w;
    cum.push(total);
  }
  return (rng) => {
    const x = rng.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cum[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return (items[lo] as readonly [T, number])[0];
  };
}
