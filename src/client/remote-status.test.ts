// The shape check of a server's status report: what the table prints must be there, and the
// part added last (the published checkpoint) may be absent from an older server's answer.
import { describe, expect, it } from "vitest";
import { checkShape } from "./remote-status.js";

const WHERE = "https://kubetrail.test/v1/status";

/** A report as a server before the `published` part sent it. */
function olderReport(): Record<string, unknown> {
  const progress = { state: "ok", position: 10, lagEntries: 0, oldestPendingAgeSeconds: null };
  return {
    apiVersion: "kubetrail.dev/v1",
    kind: "Status",
    time: "2026-12-07T06:00:00.000Z",
    log: { origin: "kubetrail.test/log", entries: 10, from: "serve" },
    checkpoint: { state: "ok", size: 10 },
    index: progress,
    detector: progress,
    dedupe: progress,
    guard: { state: "not-run" },
    retention: { state: "ok", prunedBefore: 0 },
    disk: { parts: [{ part: "wal", bytes: 4096, files: 1 }], total: { bytes: 4096, files: 1 } },
  };
}

describe("a status report from a server", () => {
  it("without the published part reads it as not run, saying why", () => {
    const report = checkShape(olderReport(), WHERE);
    expect(report.published.state).toBe("not-run");
    expect(report.published.message).toMatch(/older kubetrail/);
  });

  it("keeps the published part a newer server sends", () => {
    const published = { state: "ok", size: 8, behind: 2, ageSeconds: 1.5, cosigners: ["w.test/w"] };
    expect(checkShape({ ...olderReport(), published }, WHERE).published).toEqual(published);
  });

  it("refuses a published part that is not an object, or cosigners that are not names", () => {
    expect(() => checkShape({ ...olderReport(), published: "ok" }, WHERE)).toThrow(
      /\/v1\/status: "published" is not an object/,
    );
    expect(() =>
      checkShape({ ...olderReport(), published: { state: "ok", cosigners: [1, 2] } }, WHERE),
    ).toThrow(/"published.cosigners" is not a list of names/);
  });

  it("refuses a report missing a part the table prints", () => {
    const { disk: _disk, ...noDisk } = olderReport();
    expect(() => checkShape(noDisk, WHERE)).toThrow(/"disk" is not an object/);
  });
});
