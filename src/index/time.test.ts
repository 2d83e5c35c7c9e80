import { describe, expect, it } from "vitest";
import { IndexError } from "./errors.js";
import { microsToRfc3339, parseDuration, parseTimeFilter, rfc3339ToMicros } from "./time.js";

describe("rfc3339ToMicros", () => {
  it("keeps MicroTime's microseconds exactly", () => {
    // 2026-11-21T05:58:25Z is 1795240705 s after the epoch.
    expect(rfc3339ToMicros("2026-11-21T05:58:25.096042Z")).toBe(1795240705_096042);
    expect(rfc3339ToMicros("2026-11-21T05:58:25Z")).toBe(1795240705_000000);
  });
  it("truncates nanoseconds and applies offsets", () => {
    expect(rfc3339ToMicros("2026-11-21T05:58:25.123456789Z")).toBe(1795240705_123456);
    expect(rfc3339ToMicros("2026-11-21T07:58:25.5+02:00")).toBe(1795240705_500000);
    expect(rfc3339ToMicros("2026-11-21T00:58:25-05:00")).toBe(1795240705_000000);
  });
  it("rejects what is not a valid RFC 3339 time", () => {
    for (const bad of ["", "2026-11-21", "2026-02-31T00:00:00Z", "2026-11-21T25:00:00Z", "yesterday"]) {
      expect(rfc3339ToMicros(bad), bad).toBeUndefined();
    }
  });
  it("round-trips through microsToRfc3339", () => {
    const t = "2026-11-21T05:58:25.096042Z";
    expect(microsToRfc3339(rfc3339ToMicros(t) as number)).toBe(t);
  });
});

describe("parseDuration", () => {
  it("reads single and combined units", () => {
    expect(parseDuration("15m", "since")).toBe(15 * 60e6);
    expect(parseDuration("24h", "since")).toBe(24 * 3600e6);
    expect(parseDuration("7d", "since")).toBe(7 * 86400e6);
    expect(parseDuration("1h30m", "since")).toBe(5400e6);
  });
  it("names the filter in its error", () => {
    for (const bad of ["", "15", "m", "-5m", "5 m", "0s", "3y"]) {
      expect(() => parseDuration(bad, "since"), bad).toThrow(IndexError);
    }
    expect(() => parseDuration("3y", "since")).toThrow(/^since: "3y" is not a duration/);
  });
  it("parseTimeFilter names the filter", () => {
    expect(() => parseTimeFilter("yesterday", "from")).toThrow(/^from: "yesterday" is not an RFC 3339 time/);
  });
});
