// Kubernetes resource quantities ("500m", "1.5Gi", "2e3") as exact decimals, for the CEL
// quantity library. Exact arithmetic on bigints, because comparing "1Gi" with "1073741824"
// in floating point would be wrong at the sizes quantities reach.

/** value = num / 10^scale, reduced (no trailing zero digits while scale > 0). */
export interface Quantity {
  readonly num: bigint;
  readonly scale: number;
}

const FORMAT = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Kubernetes keeps quantities to nano precision, rounding anything finer away from zero. */
const MAX_SCALE = 9;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function reduce(num: bigint, scale: number): Quantity {
  while (scale > 0 && num % 10n === 0n) {
    num /= 10n;
    scale--;
  }
  return { num, scale };
}

function withScale(num: bigint, scale: number): Quantity {
  if (scale < 0) return reduce(num * 10n ** BigInt(-scale), 0);
  if (scale > MAX_SCALE) {
    const div = 10n ** BigInt(scale - MAX_SCALE);
    const q = num / div;
    const rounded = q * div === num ? q : num < 0n ? q - 1n : q + 1n;
    return reduce(rounded, MAX_SCALE);
  }
  return reduce(num, scale);
}

/** The quantity `text` denotes, or undefined when it is not in Kubernetes' quantity syntax. */
export function parseQuantity(text: string): Quantity | undefined {
  const m = FORMAT.exec(text);
  if (!m) return undefined;
  const [, sign, number, suffix = ""] = m as unknown as [string, string, string, string | undefined];
  const [whole = "", fraction = ""] = number.split(".");
  let num = BigInt((whole === "" ? "0" : whole) + fraction);
  if (sign === "-") num = -num;
  let scale = fraction.length;
  if (suffix in BINARY) {
    num *= 1n << BigInt(BINARY[suffix]!);
  } else if (suffix in DECIMAL) {
    scale -= DECIMAL[suffix]!;
  } else {
    const exp = Number(suffix.slice(1));
    // Beyond this the value cannot be an int64 nor compared meaningfully; Kubernetes refuses it too.
    if (!Number.isSafeInteger(exp) || Math.abs(exp) > 1000) return undefined;
    scale -= exp;
  }
  return withScale(num, scale);
}

export function isQuantityText(text: string): boolean {
  return parseQuantity(text) !== undefined;
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const s = Math.max(a.scale, b.scale);
  const x = a.num * 10n ** BigInt(s - a.scale);
  const y = b.num * 10n ** BigInt(s - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addQuantities(a: Quantity, b: Quantity): Quantity {
  const s = Math.max(a.scale, b.scale);
  return withScale(a.num * 10n ** BigInt(s - a.scale) + b.num * 10n ** BigInt(s - b.scale), s);
}

export function negateQuantity(a: Quantity): Quantity {
  return { num: -a.num, scale: a.scale };
}

export function quantityOfInt(n: bigint): Quantity {
  return { num: n, scale: 0 };
}

export function quantitySign(a: Quantity): bigint {
  return a.num < 0n ? -1n : a.num > 0n ? 1n : 0n;
}

/** A whole number that fits in an int64, as CEL's int; undefined otherwise. */
export function quantityAsInt64(a: Quantity): bigint | undefined {
  if (a.scale !== 0 || a.num < INT64_MIN || a.num > INT64_MAX) return undefined;
  return a.num;
}

export function quantityAsFloat(a: Quantity): number {
  return Number(a.num) / 10 ** a.scale;
}

/** A stable spelling of the value, equal for equal quantities ("1Gi" and "1073741824"). */
export function canonicalQuantity(a: Quantity): string {
  return a.scale === 0 ? a.num.toString() : `${a.num}e-${a.scale}`;
}

export function quantityFromCanonical(text: string): Quantity {
  const [num, exp] = text.split("e-");
  return { num: BigInt(num ?? "0"), scale: exp === undefined ? 0 : Number(exp) };
}
