// The shapes guard's pieces share: an admission request (from an AdmissionReview, a manifest
// or a stored audit event), what a policy says about it, and the decision over all policies.
import { CodedError } from "../errors.js";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
export const OPERATIONS: readonly Operation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface RequestUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** admission.k8s.io/v1 AdmissionRequest, with the fields guard relies on always present. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name: string;
  namespace: string;
  operation: Operation;
  userInfo: RequestUser;
  object: Record<string, unknown> | null;
  oldObject: Record<string, unknown> | null;
  dryRun: boolean;
  options?: unknown;
}

/** enforce: deny; warn: allow with a warning kubectl prints; audit: only record. */
export type Mode = "enforce" | "warn" | "audit";
export const MODES: readonly Mode[] = ["enforce", "warn", "audit"];

/** What a policy that cannot be evaluated does: Fail denies (closed), Ignore allows (open). */
export type FailurePolicy = "Fail" | "Ignore";

export interface Violation {
  /** The check (a built-in control, or the index of a CEL validation) that failed. */
  check: string;
  message: string;
  /** Where in the object, e.g. spec.template.spec.containers[0].securityContext.privileged. */
  field?: string;
  /** A Kubernetes StatusReason, for CEL validations that set one. */
  reason?: string;
}

/** No violations: what a passing check or result shares (frozen, so never to be added to). */
export const NO_VIOLATIONS = Object.freeze([]) as unknown as Violation[];

/** pass; fail (violations); error (could not be evaluated); excepted (failed, but an exception applied). */
export type PolicyStatus = "pass" | "fail" | "error" | "excepted";

/** What failing this policy does to the request. */
export type Effect = "deny" | "warn" | "audit";

export interface ExceptionUse {
  name: string;
  owner: string;
  expires: string;
  reason?: string;
}

export interface PolicyResult {
  policy: string;
  /** For a ValidatingAdmissionPolicy: the binding it was evaluated under. */
  binding?: string;
  /** The file it came from, or "builtin". */
  source: string;
  version: string;
  /** SHA-256 of the policy's definition (and binding and params), hex. */
  hash: string;
  modes: Mode[];
  failurePolicy: FailurePolicy;
  status: PolicyStatus;
  /** Every violation, in the order the checks ran. */
  violations: Violation[];
  /** Why the policy could not be evaluated (status "error"). */
  error?: string;
  /** What this result did to the request: nothing, or the effects of its modes. */
  effects: Effect[];
  /** The exception that applied, when status is "excepted". */
  exception?: ExceptionUse;
  /** With an exception: the effects the policy would have had without it. */
  wouldHaveBeen?: Effect[];
  /** ValidatingAdmissionPolicy auditAnnotations, evaluated. */
  auditAnnotations?: Record<string, string>;
}

/** deny > warn > audit > allow: the strongest effect any policy had. */
export type DecisionResult = "allow" | "deny" | "warn" | "audit";
export const DECISION_RESULTS: readonly DecisionResult[] = ["allow", "deny", "warn", "audit"];

export interface GuardDecision {
  allowed: boolean;
  result: DecisionResult;
  /** For a deny: what kubectl shows after "denied the request:". */
  message?: string;
  /** One line per warn-mode violation, as kubectl prints them. */
  warnings: string[];
  /** Only the policies that matched the request, in load order. */
  policies: PolicyResult[];
}

/** The guard's errors; "cel-compile" is CelCompileError, "policy-eval" a check that could not run. */
export class GuardError extends CodedError<
  "policy" | "review" | "manifest" | "test" | "replay" | "cel-compile" | "policy-eval"
> {}
