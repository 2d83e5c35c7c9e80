// Webhook and Slack sinks against a real local HTTP server, including a sink that is down and
// comes back, and one that stays down past the retry window.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { alertMetrics } from "../src/detect/alert-metrics.js";
import { SinkDispatcher } from "../src/detect/dispatch.js";
import { slackSink } from "../src/detect/sinks/slack.js";
import { webhookSink } from "../src/detect/sinks/webhook.js";
import type { RecordedAlert } from "../src/detect/types.js";
import { freePort, startReceiver, type Receiver } from "./detect-http.js";

function alert(n: number): RecordedAlert {
  return {
    apiVersion: "kubetrail.dev/v1",
    kind: "Alert",
    rule: "pod-exec",
    title: "Exec, attach or port-forward into a pod",
    severity: "medium",
    description: "Someone opened a shell <b>here</b>.",
    user: `user-${n}`,
    object: { resource: "pods", subresource: "exec", namespace: "shop", name: `api-${n}` },
    time: "2026-11-21T05:58:25.101234Z",
    auditIDs: [`audit-${n}`],
    indexes: [n],
    source: "builtin",
    alertIndex: 1000 + n,
  };
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

const fast = { initialBackoffMs: 20, maxBackoffMs: 100 };
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function receiver(port = 0): Promise<Receiver> {
  const r = await startReceiver(port);
  cleanup.push(() => r.close());
  return r;
}

describe("webhook sink", () => {
  it("POSTs the alert as JSON with the bearer token from the file", async () => {
    const r = await receiver();
    const dir = await mkdtemp(join(tmpdir(), "kubetrail-sink-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "token"), "s3cret-token\n", { mode: 0o600 });
    const sink = webhookSink({ url: `${r.url}/hooks/alerts`, tokenFile: join(dir, "token") });
    await sink.send(alert(1));
    expect(r.received).toHaveLength(1);
    expect(r.received[0]?.path).toBe("/hooks/alerts");
    expect(r.received[0]?.headers.authorization).toBe("Bearer s3cret-token");
    expect(r.received[0]?.body).toEqual(alert(1));
  });

  it("names the origin but never the token or the path when it fails", async () => {
    const r = await startReceiver(0, 500);
    cleanup.push(() => r.close());
    const dir = await mkdtemp(join(tmpdir(), "kubetrail-sink-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "token"), "s3cret-token");
    const sink = webhookSink({ url: `${r.url}/T000/B000/XXXX`, tokenFile: join(dir, "token") });
    const err = await sink.send(alert(1)).catch((e: Error) => e);
    expect(String(err)).toMatch(new RegExp(`webhook sink \\(${r.url}\\): HTTP 500`));
    expect(String(err)).not.toMatch(/s3cret|XXXX/);
  });
});

describe("slack sink", () => {
  it("sends text and blocks with the alert's fields, escaped", async () => {
    const r = await receiver();
    await slackSink({ url: `${r.url}/services/T/B/C` }).send(alert(2));
    const body = r.received[0]?.body as { text: string; blocks: Array<{ type: string }> };
    expect(body.text).toBe(
      "[MEDIUM] Exec, attach or port-forward into a pod: user-2 on pods/exec shop/api-2 at 2026-11-21T05:58:25.101234Z",
    );
    expect(body.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context"]);
    expect(JSON.stringify(body.blocks)).toContain("Someone opened a shell &lt;b&gt;here&lt;/b&gt;.");
    expect(JSON.stringify(body.blocks)).toContain("alert entry 1002");
  });
});

describe("delivery", () => {
  it("a sink that is down loses nothing within the retry window and the failures are counted", async () => {
    const registry = new Registry();
    const metrics = alertMetrics(registry);
    const port = await freePort();
    const d = new SinkDispatcher(webhookSink({ url: `http://127.0.0.1:${port}/a` }), metrics, {
      ...fast,
      retryWindowMs: 60_000,
    });
    cleanup.push(() => d.close());
    for (let i = 0; i < 5; i++) d.enqueue(alert(i));
    // Wait until at least two attempts have failed against the closed port.
    while (
      (await metricValue(registry, "kubetrail_alert_delivery_failures_total", { sink: "webhook" })) < 2
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await metricValue(registry, "kubetrail_alert_sink_up", { sink: "webhook" })).toBe(0);
    expect(d.pending).toBe(5);
    const r = await receiver(port);
    await d.idle();
    expect(r.received.map((x) => (x.body as RecordedAlert).user)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `user-${i}`),
    );
    expect(await metricValue(registry, "kubetrail_alert_delivered_total", { sink: "webhook" })).toBe(5);
    expect(await metricValue(registry, "kubetrail_alert_sink_up", { sink: "webhook" })).toBe(1);
    expect(await metricValue(registry, "kubetrail_alert_queue_length", { sink: "webhook" })).toBe(0);
  });

  it("drops (and counts) alerts older than the retry window, and the oldest when the queue is full", async () => {
    const registry = new Registry();
    const metrics = alertMetrics(registry);
    let clock = 0;
    const port = await freePort();
    const d = new SinkDispatcher(
      webhookSink({ url: `http://127.0.0.1:${port}/a` }),
      metrics,
      { ...fast, retryWindowMs: 1000, queueSize: 3 },
      () => clock,
    );
    cleanup.push(() => d.close());
    for (let i = 0; i < 4; i++) d.enqueue(alert(i));
    expect(
      await metricValue(registry, "kubetrail_alert_dropped_total", { sink: "webhook", reason: "queue_full" }),
    ).toBe(1);
    clock = 5000; // every queued alert is now past its window
    await d.idle();
    expect(
      await metricValue(registry, "kubetrail_alert_dropped_total", { sink: "webhook", reason: "expired" }),
    ).toBe(3);
    const r = await receiver(port);
    d.enqueue(alert(9));
    await d.idle();
    expect(r.received.map((x) => (x.body as RecordedAlert).user)).toEqual(["user-9"]);
  });
});
