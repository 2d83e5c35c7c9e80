// The timestamps of an audit event as the apiserver writes them (MicroTime: RFC 3339 with
// microseconds; older log lines: whole seconds): checked as real times, so an event that says
// it happened in month 13 is refused with the reason instead of being indexed at time 0.

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The two digits at `at` as a number (the shape is checked already). */
function two(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48;
}

/**
 * Why `text` is not a time as Go's RFC 3339 parser reads it (the apiserver's own), or undefined
 * when it is one: the shape, then each field's range (seconds stop at 59, as in Go). Every
 * event has two timestamps, so the fields are read in place, without allocating.
 */
export function rfc3339Problem(text: string): string | undefined {
  if (!RFC3339.test(text)) return "not in RFC 3339 form (2006-01-02T15:04:05.000000Z)";
  const year = two(text, 0) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const field = (from: number): string => text.slice(from, from + 2);
  if (month < 1 || month > 12) return `month ${field(5)} is out of range`;
  if (day < 1 || day > daysInMonth(year, month))
    return `day ${field(8)} is out of range for ${text.slice(0, 7)}`;
  if (two(text, 11) > 23) return `hour ${field(11)} is out of range`;
  if (two(text, 14) > 59) return `minute ${field(14)} is out of range`;
  if (two(text, 17) > 59) return `second ${field(17)} is out of range`;
  const z = text.length - 6;
  if (text[text.length - 1] !== "Z" && (two(text, z + 1) > 23 || two(text, z + 4) > 59))
    return `time zone offset ${text.slice(z + 1)} is out of range`;
  return undefined;
}
