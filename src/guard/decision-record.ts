// The kubetrail.dev/v1 AdmissionDecision entry: what was asked (request uid, user, operation,
// object), what every matching policy said (with its version and hash, result, mode, the
// exception used and what it would have been without it), and what was answered. Appended
// to the log before the answer is sent, so `verify` covers every decision. It never holds
// the object itself (that is the audit event's job, after redaction) nor the value a
// credential check found.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import type { AdmissionRequest, DecisionResult, GuardDecision, Operation, PolicyResult } from "./types.js";

export const DECISION_KIND = "AdmissionDecision";

export interface DecisionObject {
  apiGroup: string;
  apiVersion: string;
  kind: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface AdmissionDecisionRecord {
  apiVersion: typeof KUBETRAIL_API_VERSION;
  kind: typeof DECISION_KIND;
  /** When the decision was made: RFC 3339 with microseconds, like audit events' MicroTime. */
  time: string;
  /** The AdmissionReview request's uid. */
  uid: string;
  user: { username: string; uid?: string; groups: string[] };
  operation: Operation;
  dryRun: boolean;
  object: DecisionObject;
  result: DecisionResult;
  allowed: boolean;
  message?: string;
  warnings?: string[];
  policies: PolicyResult[];
}

/** RFC 3339 UTC with six fractional digits. */
export function microTime(ms: number): string {
  // toISOString always ends in ".sssZ": three more zeros make the microseconds.
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}

function objectName(r: AdmissionRequest): string {
  if (r.name !== "") return r.name;
  const meta = r.object?.["metadata"] ?? r.oldObject?.["metadata"];
  const m = meta !== null && typeof meta === "object" ? (meta as Record<string, unknown>) : {};
  // A generateName create has no name yet: record the prefix it asked for.
  return typeof m["name"] === "string"
    ? m["name"]
    : typeof m["generateName"] === "string"
      ? `${m["generateName"]}*`
      : "";
}

export function decisionRecord(
  r: AdmissionRequest,
  d: GuardDecision,
  nowMs: number,
): AdmissionDecisionRecord {
  const object: DecisionObject = {
    apiGroup: r.resource.group,
    apiVersion: r.resource.version,
    kind: r.kind.kind,
    resource: r.resource.resource,
  };
  if (r.subResource !== "") object.subresource = r.subResource;
  if (r.namespace !== "") object.namespace = r.namespace;
  const name = objectName(r);
  if (name !== "") object.name = name;
  const user: AdmissionDecisionRecord["user"] = { username: r.userInfo.username, groups: r.userInfo.groups };
  if (r.userInfo.uid !== undefined) user.uid = r.userInfo.uid;
  const rec: AdmissionDecisionRecord = {
    apiVersion: KUBETRAIL_API_VERSION,
    kind: DECISION_KIND,
    time: microTime(nowMs),
    uid: r.uid,
    user,
    operation: r.operation,
    dryRun: r.dryRun,
    object,
    result: d.result,
    allowed: d.allowed,
    policies: d.policies,
  };
  if (d.message !== undefined) rec.message = d.message;
  if (d.warnings.length > 0) rec.warnings = d.warnings;
  return rec;
}

const encoder = new TextEncoder();

/** The entry bytes (JSON.stringify escapes every newline, so the entry is one line). */
export function encodeDecision(rec: AdmissionDecisionRecord): Uint8Array {
  return encoder.encode(JSON.stringify(rec));
}
