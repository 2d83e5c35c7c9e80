import { describe, expect, it } from "vitest";
import { rfc3339Problem } from "./timestamp.js";

describe("rfc3339Problem", () => {
  it.each([
    "2026-11-21T05:58:25.096042Z",
    "2026-11-21T05:58:25Z",
    "2024-02-29T23:59:59.999999999+05:30",
    "2000-02-29T00:00:00-00:00",
  ])("accepts %s", (t) => expect(rfc3339Problem(t)).toBeUndefined());

  it.each([
    ["2025-13-45T99:99:99Z", "month 13 is out of range"],
    ["2025-00-10T00:00:00Z", "month 00 is out of range"],
    ["2025-02-29T00:00:00Z", "day 29 is out of range for 2025-02"],
    ["1900-02-29T00:00:00Z", "day 29 is out of range for 1900-02"],
    ["2025-04-31T00:00:00Z", "day 31 is out of range for 2025-04"],
    ["2025-04-00T00:00:00Z", "day 00 is out of range for 2025-04"],
    ["2025-04-01T24:00:00Z", "hour 24 is out of range"],
    ["2025-04-01T23:60:00Z", "minute 60 is out of range"],
    ["2025-04-01T23:59:60Z", "second 60 is out of range"],
    ["2025-04-01T23:59:59+24:00", "time zone offset 24:00 is out of range"],
    ["yesterday", "not in RFC 3339 form (2006-01-02T15:04:05.000000Z)"],
    ["2025-04-01 23:59:59Z", "not in RFC 3339 form (2006-01-02T15:04:05.000000Z)"],
  ])("refuses %s: %s", (t, why) => expect(rfc3339Problem(t)).toBe(why));
});
