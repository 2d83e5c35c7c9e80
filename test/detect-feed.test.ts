// The detector fed with ingest's parsed events (feed.ts, as `serve` wires it) on real data
// directories: the same alerts at the same log indexes as a detector that re-reads the log,
// other writers' entries and buffer overflow read from the log, and a restart resumes.
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/audit/types.js";
import { createDetector } from "../src/detect/detector.js";
import { feedDetector, StoredEntries } from "../src/detect/feed.js";
import { startLiveDetection } from "../src/detect/live.js";
import { loadRules } from "../src/detect/load-rules.js";
import type { Alert } from "../src/detect/types.js";
import { openIngest, type OpenIngest } from "../src/ingest/open-ingest.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { packBatch, unpackBatch } from "../src/ingest/receive.js";
import { followLog, type Follower } from "../src/store/follow.js";
import { at, auditEvent, encode, execInto } from "./detect-helpers.js";
import { eventList } from "./fixtures/audit/events.js";
import { onDemandIngest } from "./fixtures/on-demand-ingest.js";

const SIGMA = join(import.meta.dirname, "fixtures/sigma/good");
const RULES = { builtins: true, dirs: [SIGMA] };

const { dataDir, ingestAt } = onDemandIngest("kubetrail-detect-feed-");

/** Integrates everything and waits until the detector has seen it, its own alerts included. */
async function settle(ingest: OpenIngest, follower: Follower): Promise<void> {
  while (follower.position() < ingest.log.size()) {
    await ingest.log.waitIntegrated(ingest.log.size());
    await follower.caughtUp();
  }
}

async function alertsIn(ingest: OpenIngest): Promise<Array<Alert & { index: number }>> {
  const out: Array<Alert & { index: number }> = [];
  for await (const e of ingest.log.readEntries(0, ingest.log.size())) {
    const v = JSON.parse(new TextDecoder().decode(e.data)) as Alert;
    if (v.kind === "Alert") out.push({ ...v, index: e.index });
  }
  return out;
}

/**
 * A started detector over `ingest` with the built-in and test Sigma rules, following the log:
 * fed from `held` (ingest's events, and its own alerts unless `ownAlerts` is false), or not at all.
 */
async function follow(ingest: OpenIngest, held: StoredEntries | undefined, ownAlerts = true) {
  const detector = createDetector({
    rules: await loadRules(RULES),
    sinks: [],
    writer: ingest.log,
    reader: ingest.log,
    registry: new Registry(),
    onAppended: ownAlerts ? held?.add : undefined,
  });
  const from = await detector.start();
  const follower = held
    ? feedDetector({ log: ingest.log, detector, from, pipeline: ingest.pipeline, held })
    : followLog(ingest.log, { from, onEntries: (e) => detector.process(e) });
  return {
    follower,
    stop: async () => {
      await follower.stop();
      await detector.close();
    },
  };
}

const exec = (name: string) => execInto("a", name);
const denied = (s: number) =>
  auditEvent({ user: { username: "mallory" }, responseStatus: { code: 403 }, stageTimestamp: at(s) });

/** Batches that raise single and windowed alerts, with a conflicting repeat and an exact one. */
function batches(): AuditEvent[][] {
  const first = exec("p1");
  const conflicting = { ...first, objectRef: { ...first.objectRef, name: "p1-changed" } } as AuditEvent;
  return [
    [auditEvent(), first, ...Array.from({ length: 12 }, (_, i) => denied(i))],
    [first, conflicting, auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name: "n" } })],
    Array.from({ length: 12 }, (_, i) => denied(12 + i)),
    [auditEvent({ verb: "delete", objectRef: { resource: "configmaps", namespace: "prod-1", name: "c" } })],
  ];
}

describe("detector fed by the ingest pipeline", () => {
  it("raises the same alerts at the same log indexes as a detector that re-reads the log", async () => {
    const input = batches();
    // "bytes": each batch as a webhook body through a receive worker's packing, so ingest
    // holds the stored bytes instead of parsed events.
    const run = async (fed: false | "parsed" | "bytes") => {
      const ingest = await ingestAt(await dataDir());
      const held = fed ? new StoredEntries() : undefined;
      const { follower, stop } = await follow(ingest, held);
      for (const batch of input) {
        if (fed === "bytes") {
          const prepared = await ingest.receiver.receive(Buffer.from(eventList(batch)));
          await ingest.pipeline.ingestPrepared(unpackBatch(packBatch(prepared)));
        } else await ingest.pipeline.ingest(structuredClone(batch));
        await settle(ingest, follower);
      }
      await stop();
      return { alerts: await alertsIn(ingest), held };
    };
    const fromLog = await run(false);
    const fedBytes = await run("bytes");
    expect(fedBytes.alerts).toEqual(fromLog.alerts);
    expect(fedBytes.held?.stats).toMatchObject({ fromLog: 0, notKept: 0 });
    const fed = await run("parsed");
    expect(fromLog.alerts.map((a) => a.rule)).toEqual(
      expect.arrayContaining([
        "pod-exec",
        "forbidden-burst",
        "namespace-deleted",
        "6f1c2b0e-4a57-4c1e-9a0b-1d2e3f405001",
      ]),
    );
    expect(fed.alerts).toEqual(fromLog.alerts);
    // Every entry came from memory (ingest's events, the detector's alerts): nothing was read again.
    expect(fed.held?.stats).toMatchObject({ fromLog: 0, notKept: 0 });
    expect(fed.held?.size).toBe(0);
  });

  it("reads an entry appended by another writer between two ingest batches from the log", async () => {
    const ingest = await ingestAt(await dataDir());
    const held = new StoredEntries();
    const { follower, stop } = await follow(ingest, held);
    await ingest.pipeline.ingest([auditEvent(), auditEvent()]);
    const { firstIndex: gap } = await ingest.log.append([encode(exec("other-writer"))]);
    await ingest.pipeline.ingest([exec("via-ingest")]);
    await settle(ingest, follower);
    await stop();

    const alerts = await alertsIn(ingest);
    expect(alerts.map((a) => a.indexes)).toEqual([[gap], [gap + 1]]);
    expect(alerts.map((a) => a.object.name)).toEqual(["other-writer", "via-ingest"]);
    // The gap from the log; ingest's three events and the detector's two alert entries from memory.
    expect(held.stats).toEqual({ fromMemory: 5, fromLog: 1, notKept: 0 });
  });

  it("when the buffer is full, reads what it could not keep from the log", async () => {
    const ingest = await ingestAt(await dataDir());
    const held = new StoredEntries({ entries: 4, bytes: 1 << 30 });
    const { follower, stop } = await follow(ingest, held, false);
    const events = [auditEvent(), exec("kept"), auditEvent(), auditEvent(), auditEvent(), exec("not-kept")];
    await ingest.pipeline.ingest(events);
    expect(held.size).toBe(4);
    await settle(ingest, follower);
    await stop();

    expect((await alertsIn(ingest)).map((a) => [a.object.name, a.indexes])).toEqual([
      ["kept", [1]],
      ["not-kept", [5]],
    ]);
    // Two events over capacity, and the two alert entries (no onAppended here): all from the log.
    expect(held.stats).toEqual({ fromMemory: 4, fromLog: 4, notKept: 2 });
  });

  it("bounds what it holds by the entries' stored size too, and frees it as they are read", async () => {
    const held = new StoredEntries({ entries: 100, bytes: 25 });
    const events = [auditEvent(), auditEvent(), auditEvent()];
    held.add(0, events, [10, 10, 10]);
    expect(held.size).toBe(2);
    expect(held.stats.notKept).toBe(1);
    const fromLog = { readEntries: async function* () {} };
    expect((await held.read(fromLog, 0, 2)).map((e) => e.index)).toEqual([0, 1]);
    held.add(3, events, [10, 10, 10]); // room again once read
    expect(held.size).toBe(2);
  });

  it("after a restart resumes from the saved position, catches up from the log and raises nothing twice", async () => {
    const dir = await dataDir();
    const registry = new Registry(); // one /metrics across the restart, as in a reloaded serve
    const live = async (ingest: OpenIngest) => {
      const running = await startLiveDetection({
        stateDir: dir,
        log: ingest.log,
        pipeline: ingest.pipeline,
        rules: RULES,
        sinks: [],
        registry,
      });
      return running;
    };

    let ingest = await openIngest(fsStorage(dir), { integrateIntervalMs: 3_600_000 });
    const first = await live(ingest);
    expect(first.from).toBe(0);
    await ingest.pipeline.ingest([exec("before"), ...Array.from({ length: 15 }, (_, i) => denied(i))]);
    await settle(ingest, first.feed);
    await first.stop();
    // Ingested while detection was down: only the log has it.
    await ingest.pipeline.ingest([
      exec("while-down"),
      ...Array.from({ length: 4 }, (_, i) => denied(15 + i)),
    ]);
    await ingest.log.waitIntegrated(ingest.log.size());
    const stoppedAt = first.detector.stats().position;
    await ingest.close();

    ingest = await ingestAt(dir);
    const second = await live(ingest);
    expect(second.from).toBe(stoppedAt);
    await ingest.pipeline.ingest([denied(19), exec("after")]);
    await settle(ingest, second.feed);
    await second.stop();

    const alerts = await alertsIn(ingest);
    expect(alerts.map((a) => (a.rule === "pod-exec" ? a.object.name : a.rule))).toEqual([
      "before",
      "while-down",
      "forbidden-burst",
      "after",
    ]);
    // The window begun before the restart was refilled by the look-back replay, not re-alerted.
    expect(alerts[2]?.indexes).toHaveLength(20);
    expect(second.feed.held.stats).toMatchObject({ fromLog: 5, fromMemory: 5 });
    const metrics = await registry.metrics();
    expect(metrics).toContain('kubetrail_detect_entries_total{source="log"} 5');
    expect(metrics).toContain('kubetrail_detect_entries_total{source="memory"} 5');
    expect(metrics).toContain("kubetrail_detect_entries_not_kept_total 0");
  });
});
