// The decision over a request: each policy that matches is checked, exceptions are applied,
// and the modes of what failed decide (enforce denies, warn adds a warning, audit records).
// A policy that throws or cannot be evaluated is an error for that policy alone, failing
// open or closed as its failurePolicy says; evaluation never throws.
import type { CelInput } from "@bufbuild/cel";
import { toCelInput } from "./cel/values.js";
import { exceptionApplies, exceptionUse } from "./policy/exceptions.js";
import type { CelRequestInputs, EvalInput, LoadedPolicy } from "./policy/policy.js";
import { labelsOf } from "./policy/selector.js";
import {
  NO_VIOLATIONS,
  type AdmissionRequest,
  type Effect,
  type GuardDecision,
  type Mode,
  type PolicyResult,
  type Violation,
} from "./types.js";

export interface EvaluateContext {
  /** The clock exceptions are checked against. */
  nowMs: number;
  /** The request's Namespace object when known (namespaceObject, namespace labels). */
  namespaceObject: Record<string, unknown> | null;
}

const EFFECT: Record<Mode, Effect> = { enforce: "deny", warn: "warn", audit: "audit" };

// Passing results (most of them) share this and NO_VIOLATIONS: nothing adds to their lists.
const NO_EFFECTS = Object.freeze([]) as unknown as Effect[];

const effectsOf = (policy: LoadedPolicy): Effect[] => policy.modes.map((m) => EFFECT[m]);

/** kubectl shows warnings one per line; beyond these bounds the decision entry has the rest. */
export const MAX_WARNINGS = 25;
export const MAX_MESSAGE_CHARS = 512;
export const MAX_DENY_MESSAGE_CHARS = 4096;

function requestVariable(r: AdmissionRequest): Record<string, unknown> {
  const { object: _o, oldObject: _old, ...rest } = r;
  return rest;
}

/** One request as every policy sees it; what policies derive from it is kept for the others. */
class RequestInput implements EvalInput {
  private cel: CelRequestInputs | undefined;
  private derived: Map<(r: AdmissionRequest) => unknown, unknown> | undefined;

  constructor(
    readonly request: AdmissionRequest,
    readonly namespaceObject: Record<string, unknown> | null,
  ) {}

  celInputs(): CelRequestInputs {
    this.cel ??= {
      object: toCelInput(this.request.object),
      oldObject: toCelInput(this.request.oldObject),
      request: toCelInput(requestVariable(this.request)),
      namespaceObject: toCelInput(this.namespaceObject) as CelInput,
    };
    return this.cel;
  }

  shared<T>(derive: (r: AdmissionRequest) => T): T {
    this.derived ??= new Map();
    if (this.derived.has(derive)) return this.derived.get(derive) as T;
    const value = derive(this.request);
    this.derived.set(derive, value);
    return value;
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function violationText(v: Violation): string {
  return v.field === undefined ? v.message : `${v.message} (${v.field})`;
}

/** One policy, checked; never throws. */
export function evaluatePolicy(
  policy: LoadedPolicy,
  input: EvalInput,
  nowMs: number,
): PolicyResult | undefined {
  const base: PolicyResult = {
    policy: policy.name,
    source: policy.source,
    version: policy.version,
    hash: policy.hash,
    modes: policy.modes,
    failurePolicy: policy.failurePolicy,
    status: "pass",
    violations: NO_VIOLATIONS,
    effects: NO_EFFECTS,
  };
  if (policy.binding !== undefined) base.binding = policy.binding;
  let outcome;
  try {
    outcome = policy.check(input);
  } catch (err) {
    outcome = { violations: [], error: `policy threw: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (outcome.notApplicable) return undefined;
  if (outcome.auditAnnotations) base.auditAnnotations = outcome.auditAnnotations;
  if (outcome.error !== undefined) {
    base.status = "error";
    base.error = outcome.error;
    // Fail: the error counts as a failure of the policy; Ignore: the request goes through.
    if (policy.failurePolicy === "Fail") base.effects = effectsOf(policy);
    return base;
  }
  if (outcome.violations.length === 0) return base;
  const effects = effectsOf(policy);
  base.violations = outcome.violations;
  const exception = policy.exceptions.find(
    (e) =>
      exceptionApplies(e, input.request, nowMs) &&
      (e.checks === undefined || outcome.violations.every((v) => e.checks?.has(v.check))),
  );
  if (exception) {
    base.status = "excepted";
    base.exception = exceptionUse(exception);
    base.wouldHaveBeen = effects;
    return base;
  }
  base.status = "fail";
  base.effects = effects;
  return base;
}

function denyLines(r: PolicyResult): string[] {
  if (r.status === "error")
    return [`${denyPrefix(r)}policy could not be evaluated: ${r.error ?? "unknown error"}`];
  return r.violations.map((v) => `${denyPrefix(r)}${violationText(v)}`);
}

function denyPrefix(r: PolicyResult): string {
  return r.binding !== undefined
    ? `ValidatingAdmissionPolicy '${r.policy}' with binding '${r.binding}' denied request: `
    : `[${r.policy}] `;
}

function warnPrefix(r: PolicyResult): string {
  return r.binding !== undefined
    ? `Validation failed for ValidatingAdmissionPolicy '${r.policy}' with binding '${r.binding}': `
    : `[${r.policy}] `;
}

/**
 * Evaluates every policy that applies to `request`, in order, and combines them. Policies
 * that do not match are left out of the result.
 */
export function evaluatePolicies(
  policies: readonly LoadedPolicy[],
  request: AdmissionRequest,
  ctx: EvaluateContext,
): GuardDecision {
  const input = new RequestInput(request, ctx.namespaceObject);
  const match = {
    request,
    namespaceLabels: ctx.namespaceObject ? labelsOf(ctx.namespaceObject) : undefined,
  };
  const results: PolicyResult[] = [];
  for (const p of policies) {
    if (p.modes.length === 0) continue;
    let applies: boolean;
    try {
      applies = p.applies(match);
    } catch {
      applies = false;
    }
    if (!applies) continue;
    const r = evaluatePolicy(p, input, ctx.nowMs);
    if (r) results.push(r);
  }
  // Most reviews pass everything: the lists below are built only when something denies or warns.
  let denies = false;
  let warns = false;
  let audits = false;
  for (const r of results) {
    denies ||= r.effects.includes("deny");
    warns ||= r.effects.includes("warn");
    audits ||= r.effects.includes("audit");
  }
  const decision: GuardDecision = {
    allowed: !denies,
    result: denies ? "deny" : warns ? "warn" : audits ? "audit" : "allow",
    warnings: warns ? warningLines(results, request.uid) : [],
    policies: results,
  };
  if (denies)
    decision.message = truncate(
      results
        .filter((r) => r.effects.includes("deny"))
        .flatMap(denyLines)
        .join("; "),
      MAX_DENY_MESSAGE_CHARS,
    );
  return decision;
}

/** The AdmissionReview warnings: a line per violation of a warning policy, within kubectl's bounds. */
function warningLines(results: readonly PolicyResult[], uid: string): string[] {
  const all = results
    .filter((r) => r.effects.includes("warn"))
    .flatMap((r) =>
      r.status === "error"
        ? [`${warnPrefix(r)}policy could not be evaluated: ${r.error ?? ""}`]
        : r.violations.map((v) => `${warnPrefix(r)}${violationText(v)}`),
    );
  const warnings = all.slice(0, MAX_WARNINGS).map((w) => truncate(w, MAX_MESSAGE_CHARS));
  if (all.length > MAX_WARNINGS)
    warnings.push(
      `… and ${all.length - MAX_WARNINGS} more warnings, recorded in kubetrail's AdmissionDecision for request ${uid}`,
    );
  return warnings;
}

/** The HTTP status an AdmissionReview denial carries: from the first denying violation's reason. */
export function denialStatus(d: GuardDecision): { code: number; reason: string } {
  const codes: Record<string, number> = {
    Unauthorized: 401,
    Forbidden: 403,
    Invalid: 422,
    RequestEntityTooLarge: 413,
  };
  for (const r of d.policies)
    if (r.effects.includes("deny"))
      for (const v of r.violations)
        if (v.reason !== undefined && v.reason in codes) return { code: codes[v.reason]!, reason: v.reason };
  return { code: 403, reason: "Forbidden" };
}
