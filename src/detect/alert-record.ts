// Builds the kubetrail.dev/v1 Alert record from a rule and the events that triggered it.
import type { AuditEvent } from "../audit/types.js";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import type { Alert, AlertObject, Rule } from "./types.js";

export interface Trigger {
  event: AuditEvent;
  index: number;
}

/** The last trigger is the one that completed the match; its user, object and time are reported. */
export function buildAlert(rule: Rule, triggers: Trigger[]): Alert {
  const last = triggers[triggers.length - 1];
  if (!last) throw new Error("buildAlert needs at least one triggering event");
  const e = last.event;
  let description = rule.description;
  if (rule.window) {
    description += ` (${triggers.length} events by ${rule.window.by} "${rule.window.keyOf(e) ?? ""}" within ${formatMs(rule.window.windowMs)})`;
  }
  const alert: Alert = {
    apiVersion: KUBETRAIL_API_VERSION,
    kind: "Alert",
    rule: rule.id,
    title: rule.title,
    severity: rule.severity,
    description,
    user: e.user?.username ?? "",
    object: objectOf(e),
    time: e.stageTimestamp,
    auditIDs: [...new Set(triggers.map((t) => t.event.auditID))],
    indexes: triggers.map((t) => t.index),
    source: rule.source,
  };
  if (rule.reportsOutcome) {
    const code = e.responseStatus?.code;
    alert.succeeded = code === undefined || code < 400;
    if (code !== undefined) alert.responseCode = code;
    if (!alert.succeeded) {
      const why = e.responseStatus?.message;
      alert.description += ` This attempt did not succeed (${code}${why ? `: ${why}` : ""}).`;
    }
  }
  return alert;
}

function objectOf(e: AuditEvent): AlertObject {
  const ref = e.objectRef ?? {};
  const o: AlertObject = {};
  if (ref.apiGroup) o.apiGroup = ref.apiGroup;
  if (ref.resource) o.resource = ref.resource;
  if (ref.subresource) o.subresource = ref.subresource;
  if (ref.namespace) o.namespace = ref.namespace;
  if (ref.name) o.name = ref.name;
  return o;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The short label a person sees for an object, e.g. "pods/exec default/web-0". */
export function describeObject(o: AlertObject): string {
  const kind = [o.resource, o.subresource].filter(Boolean).join("/");
  const name = [o.namespace, o.name].filter(Boolean).join("/");
  return [kind, name].filter(Boolean).join(" ");
}
