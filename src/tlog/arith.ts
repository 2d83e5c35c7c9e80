// Tree sizes and stored-hash indexes pass 2^32 in large logs, where JavaScript's bitwise
// operators silently wrap. These helpers use plain arithmetic, exact up to 2^53.

/** n shifted right by k bits (floor(n / 2^k)). */
export function shr(n: number, k: number): number {
  return Math.floor(n / 2 ** k);
}

export function isOdd(n: number): boolean {
  return n % 2 === 1;
}

/** Number of trailing zero bits of n (n > 0). */
export function trailingZeros(n: number): number {
  let count = 0;
  while (n > 0 && n % 2 === 0) {
    n /= 2;
    count++;
  }
  return count;
}

/** Number of one bits of a non-negative safe integer. */
export function popCount(n: number): number {
  let count = 0;
  while (n > 0) {
    count += n % 2;
    n = Math.floor(n / 2);
  }
  return count;
}

/** The largest power of two strictly less than n (n ≥ 2): RFC 6962's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2 of a power of two. */
export function log2Exact(k: number): number {
  let level = 0;
  while (2 ** level < k) level++;
  return level;
}

export function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** log2Exact(n) === n;
}
