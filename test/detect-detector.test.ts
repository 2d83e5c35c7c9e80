// The detector on a real fs log, reading every entry from it (followLog; serve's feed from ingest
// is in detect-feed.test.ts): alerts become log entries, alerts never alert, and a restart
// neither re-alerts nor forgets a window in progress.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { builtinRules } from "../src/detect/builtin/index.js";
import { createDetector, type Detector } from "../src/detect/detector.js";
import { stdoutSink } from "../src/detect/sinks/stdout.js";
import type { Alert } from "../src/detect/types.js";
import { followLog } from "../src/store/follow.js";
import { openFsLog } from "../src/store/fs/storage.js";
import type { AuditLog } from "../src/store/types.js";
import { at, auditEvent, encode, execInto } from "./detect-helpers.js";
import { PassThrough } from "node:stream";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "kubetrail-detect-"));
  dirs.push(d);
  return d;
}

const denied = (s: number) =>
  auditEvent({
    user: { username: "system:serviceaccount:ci:runner" },
    responseStatus: { code: 403 },
    stageTimestamp: at(s),
  });

/** Runs a detector over everything integrated so far, then stops following and closes it. */
async function runOnce(log: AuditLog, data: string, lines: string[] = []): Promise<Detector> {
  const out = new PassThrough();
  out.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
  const detector = createDetector({
    rules: builtinRules(),
    sinks: [stdoutSink(out)],
    writer: log,
    reader: log,
    positionFile: join(data, "detect.position"),
    registry: new Registry(),
  });
  const from = await detector.start();
  const follower = followLog(log, { from, onEntries: (entries) => detector.process(entries) });
  // Alerts appended while following are entries too: follow until they have been seen as well.
  while (follower.position() < log.size()) {
    await log.waitIntegrated(log.size());
    await follower.caughtUp();
  }
  await follower.stop();
  await detector.flush();
  await detector.close();
  return detector;
}

async function alertsIn(log: AuditLog): Promise<Array<Alert & { index: number }>> {
  const out: Array<Alert & { index: number }> = [];
  for await (const e of log.readEntries(0, log.size())) {
    if (e.gone !== undefined) continue;
    const v = JSON.parse(new TextDecoder().decode(e.data)) as Alert;
    if (v.kind === "Alert") out.push({ ...v, index: e.index });
  }
  return out;
}

async function append(log: AuditLog, events: object[]): Promise<void> {
  const { firstIndex } = await log.append(events.map(encode));
  await log.waitIntegrated(firstIndex + events.length);
}

describe("detector on the fs log", () => {
  it("appends alerts as kubetrail.dev/v1 entries pointing at their evidence, and sends them", async () => {
    const data = await dataDir();
    const log = await openFsLog(data, { integrateIntervalMs: 20 });
    try {
      const exec = execInto("a", "p");
      await append(log, [auditEvent(), exec, auditEvent()]);
      const lines: string[] = [];
      await runOnce(log, data, lines);
      const alerts = await alertsIn(log);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        apiVersion: "kubetrail.dev/v1",
        rule: "pod-exec",
        indexes: [1],
        index: 3,
      });
      expect(alerts[0]?.auditIDs).toEqual([exec.auditID]);
      const sent = lines.map((l) => JSON.parse(l) as Alert & { alertIndex: number });
      expect(sent).toHaveLength(1);
      expect(sent[0]?.alertIndex).toBe(3);
      // The follower delivered the alert entry back to the detector, which skipped it.
      expect(await readFile(join(data, "detect.position"), "utf8")).toBe("4\n");
    } finally {
      await log.close();
    }
  });

  it("rebuilt from no saved position on a log whose old bundles were pruned, it skips what is gone", async () => {
    const data = await dataDir();
    let log = await openFsLog(data, { integrateIntervalMs: 20 });
    const deleted = (name: string) =>
      auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name } });
    await append(log, [
      deleted("pruned-away"),
      ...Array.from({ length: 300 }, (_, i) =>
        auditEvent({ verb: "get", objectRef: { resource: "pods", namespace: "a", name: `p${i}` } }),
      ),
      deleted("kept"),
    ]);
    await log.close();
    log = await openFsLog(data, { integrateIntervalMs: 20 });
    try {
      await log.driver.pruneBundles(256, "retention: test");
      const detector = await runOnce(log, data);
      // Only the deletion still in the log is evaluated; the pruned one is passed over.
      const namespaceAlerts = (await alertsIn(log)).filter((a) => a.rule === "namespace-deleted");
      expect(namespaceAlerts.map((a) => a.object.name)).toEqual(["kept"]);
      expect(detector.stats().position).toBe(log.size());
      expect(await readFile(join(data, "detect.position"), "utf8")).toBe(`${log.size()}\n`);
    } finally {
      await log.close();
    }
  });

  it("after a restart raises nothing twice and completes a window begun before it", async () => {
    const data = await dataDir();
    let log = await openFsLog(data, { integrateIntervalMs: 20 });
    await append(log, [
      auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name: "gone" } }),
      ...Array.from({ length: 19 }, (_, i) => denied(i)),
    ]);
    const first = await runOnce(log, data);
    expect(first.stats().alerts).toBe(1);
    await log.close();

    log = await openFsLog(data, { integrateIntervalMs: 20 });
    try {
      await append(log, [denied(19)]);
      const second = await runOnce(log, data);
      expect(second.stats().alerts).toBe(1);
      const alerts = await alertsIn(log);
      expect(alerts.map((a) => a.rule)).toEqual(["namespace-deleted", "forbidden-burst"]);
      // 19 denials at 1..19 before the restart, the 20th after the first alert entry (20).
      expect(alerts[1]?.indexes).toEqual([...Array.from({ length: 19 }, (_, i) => i + 1), 21]);
    } finally {
      await log.close();
    }
  });

  it("an append that fails is retried with the same alerts, and repeats reach the sinks once", async () => {
    const data = await dataDir();
    const log = await openFsLog(data, { integrateIntervalMs: 20 });
    try {
      const registry = new Registry();
      const lines: string[] = [];
      const out = new PassThrough();
      out.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
      let failNext = true;
      const detector = createDetector({
        rules: builtinRules(),
        sinks: [stdoutSink(out)],
        // The real log, except that the first append is refused as a full disk would.
        writer: {
          append: (entries) => {
            if (failNext) {
              failNext = false;
              return Promise.reject(new Error("disk full"));
            }
            return log.append(entries);
          },
        },
        registry,
      });
      await append(log, [execInto("a", "p"), execInto("a", "p")]);
      const entries = [];
      for await (const e of log.readEntries(0, 2)) entries.push(e);
      await expect(detector.process(entries)).rejects.toThrow("disk full");
      expect(detector.stats().position).toBe(0);
      await detector.process(entries);
      expect(detector.stats().position).toBe(2);
      await detector.flush();
      await detector.close();
      const alerts = await alertsIn(log);
      expect(alerts.map((a) => a.indexes)).toEqual([[0], [1]]);
      // Same rule, user and object twice within the dedupe window: both logged, sent once.
      expect(lines).toHaveLength(1);
      const deduped = await registry.getSingleMetric("kubetrail_alert_deduplicated_total")?.get();
      expect(deduped?.values[0]?.value).toBe(1);
    } finally {
      await log.close();
    }
  });
});
