// The detector with its rule engine in a worker thread: the bench's evaluator
// (bench/lib/worker-evaluator.ts), which bench/detect.ts compares with serve's in-thread
// detection (src/detect/live.ts). The worker runs from the TypeScript sources.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerEvaluator } from "../bench/lib/worker-evaluator.js";
import * as detect from "../src/detect/index.js";
import { RuleEngine } from "../src/detect/engine.js";
import * as fsLog from "../src/store/fs/storage.js";
import { at, auditEvent, encode } from "./detect-helpers.js";

const SIGMA = join(import.meta.dirname, "fixtures/sigma");
let dir: string;

beforeAll(async () => {
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
        evaluator: () => workerEvaluator(source),
        sinks: [],
        writer: log,
        registry: new Registry(),
      });
      expect(await worker.start()).toBe(0);
      await worker.process(entries);
      await worker.close();
      const engine = new RuleEngine(await detect.loadRules(source));
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
        evaluator: () => workerEvaluator({ builtins: true, dirs: [join(SIGMA, "bad")] }),
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
