// Alerts reach a real Alertmanager (Debian's prometheus-alertmanager) with their labels,
// including ones queued while it was still starting.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinRules } from "../src/detect/builtin/index.js";
import { createDetector } from "../src/detect/detector.js";
import { alertmanagerSink } from "../src/detect/sinks/alertmanager.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { auditEvent, encode, execInto } from "./detect-helpers.js";
import { freePort } from "./detect-http.js";

const BINARY = "/usr/bin/prometheus-alertmanager";
let dir: string;
let port: number;
let child: ChildProcess | undefined;

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL?: string;
  startsAt: string;
}

function startAlertmanager(): ChildProcess {
  const proc = spawn(
    BINARY,
    [
      `--config.file=${join(dir, "alertmanager.yml")}`,
      `--storage.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  proc.stderr?.resume();
  return proc;
}

async function alertsInAlertmanager(): Promise<AmAlert[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/alerts`);
  return (await res.json()) as AmAlert[];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubetrail-am-"));
  await writeFile(
    join(dir, "alertmanager.yml"),
    "route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n",
  );
  port = await freePort();
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe("Alertmanager sink", () => {
  it("delivers alerts raised before Alertmanager was up, with labels and annotations", async () => {
    const log = await openFsLog(join(dir, "log"), { integrateIntervalMs: 20 });
    const detector = createDetector({
      rules: builtinRules(),
      sinks: [
        alertmanagerSink({ url: `http://127.0.0.1:${port}`, generatorURL: "https://kubetrail.example/" }),
      ],
      writer: log,
      registry: new Registry(),
      delivery: { initialBackoffMs: 50, maxBackoffMs: 500, retryWindowMs: 120_000 },
    });
    const exec = execInto("payments", "ledger-0", { user: { username: "mallory@example.com" } });
    const nsDelete = auditEvent({
      verb: "delete",
      user: { username: "bob@example.com" },
      objectRef: { resource: "namespaces", name: "staging" },
    });
    // Alertmanager is not running yet: process must still return at once with the alerts logged.
    await log.append([encode(exec), encode(nsDelete)]);
    const entries = [];
    for await (const e of log.readEntries(0, 2)) entries.push(e);
    await detector.process(entries);
    expect(log.size()).toBe(4);
    expect(detector.stats().queued.alertmanager).toBeGreaterThan(0);

    child = startAlertmanager();
    await detector.flush();
    await detector.close();
    await log.close();

    const alerts = await alertsInAlertmanager();
    const byRule = new Map(alerts.map((a) => [a.labels.rule, a]));
    expect(byRule.get("pod-exec")?.labels).toEqual({
      alertname: "Exec, attach or port-forward into a pod",
      severity: "medium",
      rule: "pod-exec",
      user: "mallory@example.com",
      namespace: "payments",
      object: "pods/exec payments/ledger-0",
      source: "kubetrail",
    });
    expect(byRule.get("pod-exec")?.annotations).toMatchObject({
      auditIDs: exec.auditID,
      logIndexes: "0",
      alertIndex: "2",
      time: exec.stageTimestamp,
    });
    expect(byRule.get("pod-exec")?.generatorURL).toBe(
      `https://kubetrail.example/v1/events?auditID=${exec.auditID}`,
    );
    expect(byRule.get("namespace-deleted")?.labels).toMatchObject({
      severity: "high",
      user: "bob@example.com",
      object: "namespaces staging",
    });
  });
});
