// The timestamps of an audit event as the apiserver writes them (MicroTime: RFC 3339 with
// microseconds; older log lines: whole seconds): checked as real times, so an event that says
// it happened in month 13 is refused with the reason instead of being indexed at time 0.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Why `text` is not a time as Go's RFC 3339 parser reads it (the apiserver's own), or undefined
 * when it is one: the shape, then each field's range (seconds stop at 59, as in Go).
 */
export function rfc3339Problem(text: string): string | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return "not in RFC 3339 form (2006-01-02T15:04:05.000000Z)";
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return `month ${m[2]} is out of range`;
  if (day < 1 || day > daysInMonth(year, month)) return `day ${m[3]} is out of range for ${m[1]}-${m[2]}`;
  if (hour > 23) return `hour ${m[4]} is out of range`;
  if (minute > 59) return `minute ${m[5]} is out of range`;
  if (second > 59) return `second ${m[6]} is out of range`;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59))
    return `time zone offset ${m[7]}:${m[8]} is out of range`;
  return undefined;
}
