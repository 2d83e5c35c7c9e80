// Prometheus metrics of the server and the ingest path, in one registry per server (so several
// servers in one process, as in tests, do not collide). Every name starts with kubetrail_.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { IngestResult } from "../ingest/pipeline.js";

/** What the metrics know of the latest checkpoint: its size and when this process saw it written. */
export interface CheckpointStatus {
  size: number;
  writtenAtMs: number;
}

export type IngestSource = "webhook" | "import" | "follow";

export interface ServerMetrics {
  registry: Registry;
  httpRequests: Counter<"route" | "code">;
  authFailures: Counter<"scope" | "code">;
  eventsReceived: Counter<"source">;
  eventsStored: Counter<"source">;
  eventsDuplicate: Counter<"source">;
  eventsConflict: Counter<"source">;
  eventsDropped: Counter<"source">;
  rejected: Counter<"reason">;
  batchSize: Histogram;
  ackSeconds: Histogram;
  requestBytes: Counter;
  storedBytes: Counter<"source">;
  /** Connections closed by the connection guard before they showed a credential. */
  connectionsRefused: Counter<"reason">;
  connectionsUnauthenticated: Gauge;
  /** Records the outcome of one ingest call. */
  recordIngest(source: IngestSource, result: IngestResult): void;
}

/**
 * `logLinesDropped`: how many log lines (and stdout alerts) could not be written so far
 * (LineOutput.dropped); exported as a counter.
 */
export function createMetrics(
  checkpoint?: () => CheckpointStatus | undefined,
  logLinesDropped?: () => number,
): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "kubetrail_" });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name: `kubetrail_${name}`, help, labelNames, registers });
  const m: ServerMetrics = {
    registry,
    httpRequests: counter("http_requests_total", "HTTP requests by route and status code", ["route", "code"]),
    authFailures: counter(
      "auth_failures_total",
      "Requests refused for a missing (401) or wrong (403) credential",
      ["scope", "code"],
    ),
    eventsReceived: counter("events_received_total", "Audit events received", ["source"]),
    eventsStored: counter("events_stored_total", "Audit events appended durably to the log", ["source"]),
    eventsDuplicate: counter("events_duplicate_total", "Identical repeats of stored events, dropped", [
      "source",
    ]),
    eventsConflict: counter(
      "events_duplicate_conflict_total",
      "Events stored with the duplicate-conflict flag (same auditID and stage, different content)",
      ["source"],
    ),
    eventsDropped: counter(
      "events_policy_dropped_total",
      "Audit events dropped by the ingest policy (level None)",
      ["source"],
    ),
    rejected: counter("requests_rejected_total", "Webhook requests or import lines rejected, by reason", [
      "reason",
    ]),
    batchSize: new Histogram({
      name: "kubetrail_webhook_batch_events",
      help: "Events per webhook batch",
      buckets: [1, 10, 50, 100, 200, 400, 800, 1600],
      registers,
    }),
    ackSeconds: new Histogram({
      name: "kubetrail_webhook_ack_seconds",
      help: "Time from the start of a webhook request to its acknowledgement (events durable)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    requestBytes: counter(
      "webhook_request_bytes_total",
      "Webhook request body bytes received (as sent, before gunzip)",
    ),
    storedBytes: counter("events_stored_bytes_total", "Bytes of audit events appended to the log", [
      "source",
    ]),
    connectionsRefused: counter(
      "connections_refused_total",
      "Connections closed before showing a credential: beyond the limit per source address or in total",
      ["reason"],
    ),
    connectionsUnauthenticated: new Gauge({
      name: "kubetrail_connections_unauthenticated",
      help: "Open connections on which no request has passed authentication yet",
      registers,
    }),
    recordIngest(source, r) {
      m.eventsReceived.inc({ source }, r.received);
      m.eventsStored.inc({ source }, r.stored);
      m.eventsDuplicate.inc({ source }, r.duplicates);
      m.eventsConflict.inc({ source }, r.conflicts);
      m.eventsDropped.inc({ source }, r.dropped);
      m.storedBytes.inc({ source }, r.storedBytes);
    },
  };
  new Gauge({
    name: "kubetrail_checkpoint_size",
    help: "Tree size of the latest signed checkpoint",
    registers,
    collect() {
      const cp = checkpoint?.();
      if (cp) this.set(cp.size);
    },
  });
  new Gauge({
    name: "kubetrail_checkpoint_age_seconds",
    help: "Seconds since the latest checkpoint was written",
    registers,
    collect() {
      const cp = checkpoint?.();
      if (cp) this.set((Date.now() - cp.writtenAtMs) / 1000);
    },
  });
  let droppedSeen = 0;
  new Counter({
    name: "kubetrail_log_lines_dropped_total",
    help: "Log lines and stdout alerts that could not be written (disk full, closed pipe); serving goes on",
    registers,
    collect() {
      const now = logLinesDropped?.() ?? 0;
      if (now > droppedSeen) this.inc(now - droppedSeen);
      droppedSeen = now;
    },
  });
  return m;
}

/**
 * A gauge whose value is read at each scrape, replacing a metric of the same name (a part that
 * restarts registers its gauges again).
 */
export function gaugeReadAtScrape(registry: Registry, name: string, help: string, read: () => number): void {
  registry.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose total is kept elsewhere and read at each scrape; replaces one of the same name. */
export function counterReadAtScrape(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  registry.removeSingleMetric(name);
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
