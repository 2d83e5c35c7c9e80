// Prometheus Alertmanager v2 API: POST /api/v2/alerts. Audit alerts are events, not states, so
// each one is sent with an endsAt after which Alertmanager resolves it by itself.
import { describeObject } from "../alert-record.js";
import type { AlertSink, RecordedAlert } from "../types.js";
import { postJson } from "./http-post.js";

export interface AlertmanagerSinkOptions {
  url: string;
  /** Base URL of kubetrail's API; alerts link to the triggering event's query there. */
  generatorURL?: string;
  /** How long an alert stays active in Alertmanager. */
  resolveAfterMs?: number;
  ca?: Buffer;
  timeoutMs?: number;
  now?: () => number;
}

export function alertmanagerSink(opts: AlertmanagerSinkOptions): AlertSink {
  const endpoint = new URL("api/v2/alerts", opts.url.endsWith("/") ? opts.url : `${opts.url}/`);
  const now = opts.now ?? Date.now;
  return {
    name: "alertmanager",
    send: (alert) =>
      postJson("alertmanager", endpoint, [alertmanagerAlert(alert, opts, now())], {
        ca: opts.ca,
        timeoutMs: opts.timeoutMs,
      }),
  };
}

export function alertmanagerAlert(
  alert: RecordedAlert,
  opts: Pick<AlertmanagerSinkOptions, "generatorURL" | "resolveAfterMs">,
  nowMs: number,
): Record<string, unknown> {
  const started = Date.parse(alert.time);
  const startsAt = Number.isNaN(started) ? nowMs : started;
  // Replayed old alerts still show for a while instead of arriving already resolved.
  const endsAt = Math.max(startsAt, nowMs) + (opts.resolveAfterMs ?? 3_600_000);
  const labels: Record<string, string> = {
    alertname: alert.title,
    severity: alert.severity,
    rule: alert.rule,
    source: "kubetrail",
  };
  // An empty label value means "no such label" to Alertmanager; leave it out explicitly.
  if (alert.user) labels.user = alert.user;
  if (alert.object.namespace) labels.namespace = alert.object.namespace;
  const object = describeObject(alert.object);
  if (object) labels.object = object;
  const annotations: Record<string, string> = {
    summary: `${alert.title}: ${alert.user} on ${object || "(no object)"}`,
    description: alert.description,
    time: alert.time,
    auditIDs: alert.auditIDs.join(","),
    logIndexes: alert.indexes.join(","),
  };
  if (alert.alertIndex !== undefined) annotations.alertIndex = String(alert.alertIndex);
  const out: Record<string, unknown> = {
    labels,
    annotations,
    startsAt: new Date(startsAt).toISOString(),
    endsAt: new Date(endsAt).toISOString(),
  };
  if (opts.generatorURL) {
    const link = new URL(
      "v1/events",
      opts.generatorURL.endsWith("/") ? opts.generatorURL : `${opts.generatorURL}/`,
    );
    if (alert.auditIDs[0]) link.searchParams.set("auditID", alert.auditIDs[0]);
    out.generatorURL = link.toString();
  }
  return out;
}
