// Audit timestamps are MicroTime strings (RFC 3339 with up to 9 fractional digits). The index
// sorts on integer microseconds since the epoch: exact for MicroTime and well inside 2^53.
import { IndexError } from "./errors.js";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Microseconds since the Unix epoch for an RFC 3339 timestamp, or undefined when it is not one.
 * Digits beyond microseconds are truncated (never rounded), so ordering never inverts.
 */
export function rfc3339ToMicros(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  const ms = Date.UTC(Number(y), month - 1, day, hour, minute, second);
  // Date.UTC silently rolls 31 February into March; reject instead.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  let offsetMin = 0;
  if (zone !== undefined && zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const micros = frac === undefined ? 0 : Number(frac.padEnd(6, "0").slice(0, 6));
  return (ms - offsetMin * 60_000) * 1000 + micros;
}

/** Formats microseconds since the epoch as RFC 3339 UTC with exactly six fractional digits. */
export function microsToRfc3339(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const sub = micros - ms * 1000;
  const iso = new Date(ms).toISOString(); // 2026-11-21T05:58:25.096Z
  return `${iso.slice(0, 23)}${String(sub).padStart(3, "0")}Z`;
}

const DURATION_PART = /(\d+)(ms|s|m|h|d|w)/y;
const UNIT_MICROS: Record<string, number> = {
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
  w: 604_800_000_000,
};

/** Parses `15m`, `24h`, `7d`, `1h30m` into microseconds; throws a bad-filter IndexError naming `field`. */
export function parseDuration(text: string, field: string): number {
  let total = 0;
  let pos = 0;
  DURATION_PART.lastIndex = 0;
  while (pos < text.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(text);
    if (!m) break;
    total += Number(m[1]) * (UNIT_MICROS[m[2] as string] as number);
    pos = DURATION_PART.lastIndex;
  }
  if (text.length === 0 || pos !== text.length || total <= 0) {
    throw new IndexError(
      "bad-filter",
      `${field}: "${text}" is not a duration (use a number with s, m, h, d or w, e.g. 15m, 24h, 7d)`,
      field,
    );
  }
  return total;
}

/** Parses an RFC 3339 time for a filter; throws a bad-filter IndexError naming `field`. */
export function parseTimeFilter(text: string, field: string): number {
  const micros = rfc3339ToMicros(text);
  if (micros === undefined) {
    throw new IndexError(
      "bad-filter",
      `${field}: "${text}" is not an RFC 3339 time (e.g. 2026-11-21T03:12:00Z)`,
      field,
    );
  }
  return micros;
}
