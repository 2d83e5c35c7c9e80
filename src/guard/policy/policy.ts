// A loaded policy, whatever it was written as (kubetrail GuardPolicy, ValidatingAdmissionPolicy
// + binding, or a built-in): where it applies, what it checks, and what failing it does.
import type { CelInput } from "@bufbuild/cel";
import type { AdmissionRequest, FailurePolicy, Mode, Violation } from "../types.js";
import type { PolicyException } from "./exceptions.js";
import type { MatchInput, ResourceRule } from "./match.js";

/** The request as policies see it; CEL inputs are converted once and shared by every policy. */
export interface EvalInput {
  request: AdmissionRequest;
  namespaceObject: Record<string, unknown> | null;
  /** object, oldObject, request and namespaceObject as CEL values (converted on first use). */
  celInputs(): CelRequestInputs;
  /**
   * `derive(request)`, computed by the first policy that asks and shared with the others
   * checking the same request (several built-ins read the same pod template). `derive` is
   * the key: pass the same module-level function every time, and never one that depends on
   * a policy's settings.
   */
  shared<T>(derive: (request: AdmissionRequest) => T): T;
}

export interface CelRequestInputs {
  object: CelInput;
  oldObject: CelInput;
  request: CelInput;
  namespaceObject: CelInput;
}

export interface CheckOutcome {
  /** matchConditions excluded the request: the policy does not apply after all. */
  notApplicable?: boolean;
  violations: Violation[];
  /** The policy could not be evaluated; its failurePolicy decides. */
  error?: string;
  auditAnnotations?: Record<string, string>;
}

export type PolicyKind = "GuardPolicy" | "ValidatingAdmissionPolicy" | "builtin";

export interface LoadedPolicy {
  name: string;
  kind: PolicyKind;
  /** The file (and line) it was loaded from, or "builtin". */
  source: string;
  version: string;
  hash: string;
  /** Empty when the policy is switched off. */
  modes: Mode[];
  failurePolicy: FailurePolicy;
  /** For ValidatingAdmissionPolicy messages: the binding's name. */
  binding?: string;
  applies(input: MatchInput): boolean;
  /**
   * The resource rules it can apply to (its match; for a VAP, matchConstraints): what an
   * admission webhook must be sent for the policy to see its requests.
   */
  rules: readonly ResourceRule[];
  exceptions: PolicyException[];
  /** May throw; the engine turns a throw into an error result for this policy alone. */
  check(input: EvalInput): CheckOutcome;
}
