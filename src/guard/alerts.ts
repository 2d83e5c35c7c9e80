// Denies and warnings reach the same alert sinks as detections (stdout, webhook, Slack,
// Alertmanager): one alert per policy that denied or warned, pointing at the decision entry
// (its log index) so the receiver can fetch its inclusion proof.
import type { RecordedAlert } from "../detect/types.js";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import type { AdmissionDecisionRecord } from "./decision-record.js";

export function decisionAlerts(rec: AdmissionDecisionRecord, index: number): RecordedAlert[] {
  const o = rec.object;
  const object: RecordedAlert["object"] = { resource: o.resource };
  if (o.apiGroup !== "") object.apiGroup = o.apiGroup;
  if (o.subresource !== undefined) object.subresource = o.subresource;
  if (o.namespace !== undefined) object.namespace = o.namespace;
  if (o.name !== undefined) object.name = o.name;
  return rec.policies.flatMap((p): RecordedAlert[] => {
    const denied = p.effects.includes("deny");
    if (!denied && !p.effects.includes("warn")) return [];
    const what =
      p.status === "error"
        ? `could not be evaluated: ${p.error ?? ""}`
        : p.violations.map((v) => v.message).join("; ");
    return [
      {
        apiVersion: KUBETRAIL_API_VERSION,
        kind: "Alert",
        rule: `guard/${p.policy}`,
        title: `${denied ? "Admission denied" : "Admission warning"}: ${p.policy}`,
        severity: denied ? "high" : "medium",
        description: `${rec.operation} ${o.kind} ${[o.namespace, o.name].filter(Boolean).join("/")}${rec.dryRun ? " (dry run)" : ""}: ${what}`,
        user: rec.user.username,
        object,
        time: rec.time,
        auditIDs: [rec.uid],
        indexes: [index],
        source: p.source,
        alertIndex: index,
      },
    ];
  });
}
