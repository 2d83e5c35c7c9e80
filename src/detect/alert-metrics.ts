// Prometheus counters for alerting, all prefixed kubetrail_alert_. They are registered once per
// registry and shared, so several detectors (tests, reloads) in one process do not collide.
import { Counter, Gauge, register as defaultRegister, type Registry } from "prom-client";

export interface AlertMetrics {
  raised: Counter<"rule" | "severity">;
  deduplicated: Counter<"rule">;
  delivered: Counter<"sink">;
  failedAttempts: Counter<"sink">;
  dropped: Counter<"sink" | "reason">;
  queueLength: Gauge<"sink">;
  sinkUp: Gauge<"sink">;
}

const cache = new WeakMap<Registry, AlertMetrics>();

export function alertMetrics(registry: Registry = defaultRegister): AlertMetrics {
  const cached = cache.get(registry);
  if (cached) return cached;
  const registers = [registry];
  const metrics: AlertMetrics = {
    raised: new Counter({
      name: "kubetrail_alert_raised_total",
      help: "Alerts raised by detection rules (each is also an entry in the log).",
      labelNames: ["rule", "severity"],
      registers,
    }),
    deduplicated: new Counter({
      name: "kubetrail_alert_deduplicated_total",
      help: "Repeated alerts (same rule, user and object within the dedupe window) not sent to sinks again.",
      labelNames: ["rule"],
      registers,
    }),
    delivered: new Counter({
      name: "kubetrail_alert_delivered_total",
      help: "Alerts a sink accepted.",
      labelNames: ["sink"],
      registers,
    }),
    failedAttempts: new Counter({
      name: "kubetrail_alert_delivery_failures_total",
      help: "Delivery attempts that failed and will be retried within the retry window.",
      labelNames: ["sink"],
      registers,
    }),
    dropped: new Counter({
      name: "kubetrail_alert_dropped_total",
      help: "Alerts a sink never received: queue_full (bounded queue overflowed) or expired (retry window passed).",
      labelNames: ["sink", "reason"],
      registers,
    }),
    queueLength: new Gauge({
      name: "kubetrail_alert_queue_length",
      help: "Alerts waiting for delivery to a sink.",
      labelNames: ["sink"],
      registers,
    }),
    sinkUp: new Gauge({
      name: "kubetrail_alert_sink_up",
      help: "1 when the last delivery attempt to the sink succeeded, 0 when it failed.",
      labelNames: ["sink"],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
