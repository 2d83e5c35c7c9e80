// What happens to an audit event between the webhook/import and the log: the ingest policy
// (drop, lower, omit managedFields) and then redaction, so nothing secret is ever hashed.
import { attributesFromEvent } from "./policy/attributes.js";
import { createPolicyEvaluator } from "./policy/evaluate.js";
import type { Policy } from "./policy/types.js";
import { copyEvent } from "./redact/copy-event.js";
import { createRedactor } from "./redact/redact-event.js";
import type { RedactionRule } from "./redact/rules.js";
import { KUBETRAIL_ANNOTATIONS, LEVELS, type AuditEvent, type Level } from "./types.js";
import { isRecord } from "../json/record.js";
import { setOwnField } from "../json/own-field.js";

export interface IngestTransformOptions {
  policy?: Policy;
  redaction: { key: Uint8Array; extraRules?: RedactionRule[] };
}

export type IngestTransform = (event: AuditEvent) => AuditEvent | null;

const RANK: Record<string, number> = Object.fromEntries(LEVELS.map((l, i) => [l, i]));
const REQUEST = RANK.Request!;
const REQUEST_RESPONSE = RANK.RequestResponse!;

/**
 * Builds the ingest transform. For each event it guarantees:
 * - null when the policy gives level None or omits the event's stage (the caller drops it);
 * - otherwise the event (a copy when anything changed; the input is never modified) at
 *   the lower of the level the apiserver sent and the level the policy gives:
 *   requestObject is kept only at Request or above, responseObject only at
 *   RequestResponse; nothing is ever added;
 * - managedFields removed from request/response objects when the policy asks;
 * - credentials replaced by HMAC tags, listed in the `kubetrail.dev/redacted` annotation;
 * - with a policy, the index of the rule that shaped it in `kubetrail.dev/policy-rule`.
 * Annotations under those two keys that arrive with the event are removed: only
 * kubetrail may set them.
 */
export function createIngestTransform(opts: IngestTransformOptions): IngestTransform {
  const evaluator = opts.policy ? createPolicyEvaluator(opts.policy) : undefined;
  const redact = createRedactor(opts.redaction);

  return (input) => {
    // Copy-on-write: the input is never modified, and returned as is when nothing changes.
    let event: AuditEvent = input;
    let rule: string | undefined;
    if (evaluator) {
      const decision = evaluator.evaluate(attributesFromEvent(input));
      if (decision.level === "None" || decision.omitStages.includes(input.stage)) return null;
      event = copyEvent(input);
      lowerTo(event, decision.level);
      if (decision.omitManagedFields) stripManagedFields(event);
      rule = String(decision.rule);
    }
    const redacted = redact(event);
    event = redacted.event;
    const src = input.annotations;
    const forged = src !== undefined && hasKubetrailKeys(src);
    if (rule === undefined && redacted.paths.length === 0 && !forged) return event;
    if (event === input) event = copyEvent(input);
    const annotations = src === undefined ? {} : forged ? withoutKubetrailKeys(src) : { ...src };
    if (rule !== undefined) annotations[KUBETRAIL_ANNOTATIONS.policyRule] = rule;
    if (redacted.paths.length > 0) annotations[KUBETRAIL_ANNOTATIONS.redacted] = redacted.paths.join(",");
    event.annotations = annotations;
    return event;
  };
}

function hasKubetrailKeys(src: Record<string, string>): boolean {
  return (
    Object.hasOwn(src, KUBETRAIL_ANNOTATIONS.policyRule) || Object.hasOwn(src, KUBETRAIL_ANNOTATIONS.redacted)
  );
}

/** A copy of the apiserver's annotations without kubetrail's own keys (those may only come from kubetrail). */
function withoutKubetrailKeys(src: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k !== KUBETRAIL_ANNOTATIONS.policyRule && k !== KUBETRAIL_ANNOTATIONS.redacted)
      setOwnField(out, k, v);
  }
  return out;
}

/** Lowers the event in place (it is already a copy); a level it did not reach is never raised. */
function lowerTo(event: AuditEvent, policyLevel: Level): void {
  const sent = RANK[event.level] ?? REQUEST_RESPONSE;
  const rank = Math.min(sent, RANK[policyLevel]!);
  event.level = LEVELS[rank]!;
  if (rank < REQUEST && "requestObject" in event) delete event.requestObject;
  if (rank < REQUEST_RESPONSE && "responseObject" in event) delete event.responseObject;
}

/**
 * Like the apiserver, removes metadata.managedFields from objects and from the items of
 * lists. A patch body is recorded raw by the apiserver (never stripped), so it is kept.
 */
function stripManagedFields(event: AuditEvent): void {
  if (event.requestObject !== undefined && event.verb !== "patch")
    event.requestObject = withoutManagedFields(event.requestObject);
  if (event.responseObject !== undefined) event.responseObject = withoutManagedFields(event.responseObject);
}

function withoutManagedFields(obj: unknown): unknown {
  if (!isRecord(obj)) return obj;
  if (Array.isArray(obj.items)) return { ...obj, items: obj.items.map(stripOne) };
  return stripOne(obj);
}

function stripOne(obj: unknown): unknown {
  if (!isRecord(obj) || !isRecord(obj.metadata) || !Object.hasOwn(obj.metadata, "managedFields")) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}
