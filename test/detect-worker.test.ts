// The detector with its rule engine in a worker thread (an option for entries read from the log;
// serve evaluates in its own thread, see src/detect/live.ts). Workers load compiled JavaScript,
// so this test drives the built dist/ (the suite builds first).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as DetectModule from "../src/detect/index.js";
import type * as FsLogModule from "../src/store/fs/storage.js";
import { at, auditEvent, encode } from "./detect-helpers.js";

const DIST = join(import.meta.dirname, "../dist");
const SIGMA = join(import.meta.dirname, "fixtures/sigma");
let detect: typeof DetectModule;
let fsLog: typeof FsLogModule;
let dir: string;

beforeAll(async () => {
  detect = (await import(pathToFileURL(join(DIST, "detect/index.js")).href)) as typeof DetectModule;
  fsLog = (await import(pathToFileURL(join(DIST, "store/fs/storage.js")).href)) as typeof FsLogModule;
  dir = await mkdtemp(join(tmpdir(), "kubetrail-detect-worker-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("detector in a worker thread", () => {
  it("raises the same alerts as in-thread detection and appends them to the log", async () => {
    const log = await fsLog.openFsLog(join(dir, "a"), { integrateIntervalMs: 20 });
    try {
      const events = [
        auditEvent({ verb: "delete", objectRef: { resource: "configmaps", namespace: "prod-1", name: "c" } }),
        auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name: "n" } }),
        ...Array.from({ length: 20 }, (_, i) =>
          auditEvent({ responseStatus: { code: 403 }, stageTimestamp: at(i) }),
        ),
      ];
      await log.append(events.map(encode));
      const entries = [];
      for await (const e of log.readEntries(0, events.length)) entries.push(e);

      const source = { builtins: true, dirs: [join(SIGMA, "good")] };
      const worker = detect.createDetector({
        workerRules: source,
        sinks: [],
        writer: log,
        registry: new Registry(),
      });
      expect(await worker.start()).toBe(0);
      await worker.process(entries);
      await worker.close();
      const inThread = (await import(
        pathToFileURL(join(DIST, "detect/engine.js")).href
      )) as typeof import("../src/detect/engine.js");
      const engine = new inThread.RuleEngine(await detect.loadRules(source));
      const expected = entries.flatMap((e) => engine.evaluateEntry(e.index, e.data!)).map((a) => a.rule);

      const logged = [];
      for await (const e of log.readEntries(events.length, log.size())) {
        logged.push((JSON.parse(new TextDecoder().decode(e.data)) as { rule: string }).rule);
      }
      expect(logged).toEqual(expected);
      expect(logged).toEqual([
        "6f1c2b0e-4a57-4c1e-9a0b-1d2e3f405001",
        "namespace-deleted",
        "forbidden-burst",
      ]);
      expect(worker.stats()).toMatchObject({ events: 22, alerts: 3, position: 22 });
    } finally {
      await log.close();
    }
  });

  it("start() rejects, naming the file and reason, when the worker cannot load the rules", async () => {
    const log = await fsLog.openFsLog(join(dir, "b"), { integrateIntervalMs: 20 });
    try {
      const d = detect.createDetector({
        workerRules: { builtins: true, dirs: [join(SIGMA, "bad")] },
        sinks: [],
        writer: log,
        registry: new Registry(),
      });
      await expect(d.start()).rejects.toThrow(/near\.yml: .*near/);
    } finally {
      await log.close();
    }
  });
});
