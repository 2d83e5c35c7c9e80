// Real ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding documents
// (admissionregistration.k8s.io/v1), evaluated unchanged: one loaded policy per binding, with
// the binding's validationActions as modes, its matchResources narrowing the policy's
// matchConstraints, and params found among the loaded documents by paramKind and paramRef.
// What kubetrail cannot evaluate is refused at load with the reason.
import { isRecord } from "../../json/record.js";
import type { SourceDocument } from "../documents.js";
import type { AdmissionRequest, Mode } from "../types.js";
import { compilePolicyChecks, runCelChecks, type CelChecks, type ParamSource } from "./cel-checks.js";
import { FieldErrors } from "./field-errors.js";
import { decodeFailurePolicy, sourceOf } from "./guard-policy.js";
import { allOf, decodeVapMatch, type Matcher } from "./match.js";
import { policyHash } from "./policy-hash.js";
import type { LoadedPolicy } from "./policy.js";
import { decodeSelector, labelsOf, selectorMatches, type LabelSelector } from "./selector.js";

export const VAP_GROUP = "admissionregistration.k8s.io";
export const VAP_VERSIONS = [`${VAP_GROUP}/v1`, `${VAP_GROUP}/v1beta1`];
export const VAP_KIND = "ValidatingAdmissionPolicy";
export const VAP_BINDING_KIND = "ValidatingAdmissionPolicyBinding";

export interface DecodedVap {
  doc: SourceDocument;
  name: string;
  paramKind?: { apiVersion: string; kind: string };
  matcher?: Matcher;
  failurePolicy: "Fail" | "Ignore";
  checks: CelChecks;
  errors: FieldErrors;
}

export interface DecodedBinding {
  doc: SourceDocument;
  name: string;
  policyName: string;
  modes: Mode[];
  matcher?: Matcher;
  paramRef?: { name?: string; namespace?: string; selector?: LabelSelector; notFound: "Allow" | "Deny" };
  errors: FieldErrors;
}

function metaName(v: Record<string, unknown>, errs: FieldErrors): string {
  const meta = isRecord(v["metadata"]) ? v["metadata"] : {};
  const name = typeof meta["name"] === "string" ? meta["name"] : "";
  if (name === "") errs.add("metadata.name", "required");
  return name;
}

export function decodeVap(doc: SourceDocument): DecodedVap {
  const errs = new FieldErrors();
  const v = doc.value;
  const name = metaName(v, errs);
  const spec = isRecord(v["spec"]) ? v["spec"] : {};
  if (!isRecord(v["spec"])) errs.add("spec", "required");
  errs.unknownFields(
    spec,
    [
      "paramKind",
      "matchConstraints",
      "validations",
      "failurePolicy",
      "auditAnnotations",
      "matchConditions",
      "variables",
    ],
    "spec",
  );
  let paramKind: DecodedVap["paramKind"];
  if (spec["paramKind"] !== undefined) {
    const pk = isRecord(spec["paramKind"]) ? spec["paramKind"] : {};
    const apiVersion = errs.string(pk, "apiVersion", "spec.paramKind");
    const kind = errs.string(pk, "kind", "spec.paramKind");
    if (!apiVersion || !kind) errs.add("spec.paramKind", "needs apiVersion and kind");
    else paramKind = { apiVersion, kind };
  }
  const checks = compilePolicyChecks(spec, errs, paramKind !== undefined);
  return {
    doc,
    name,
    paramKind,
    matcher: decodeVapMatch(spec["matchConstraints"], "spec.matchConstraints", errs, true),
    failurePolicy: decodeFailurePolicy(spec["failurePolicy"], "spec.failurePolicy", errs),
    checks,
    errors: errs,
  };
}

const ACTION_MODES: Record<string, Mode> = { Deny: "enforce", Warn: "warn", Audit: "audit" };

export function decodeBinding(doc: SourceDocument): DecodedBinding {
  const errs = new FieldErrors();
  const v = doc.value;
  const name = metaName(v, errs);
  const spec = isRecord(v["spec"]) ? v["spec"] : {};
  errs.unknownFields(spec, ["policyName", "paramRef", "matchResources", "validationActions"], "spec");
  const policyName = errs.string(spec, "policyName", "spec") ?? "";
  if (policyName === "") errs.add("spec.policyName", "required");
  const actions = errs.strings(spec, "validationActions", "spec");
  if (actions.length === 0) errs.add("spec.validationActions", "required: Deny, Warn and/or Audit");
  for (const a of actions)
    if (!(a in ACTION_MODES)) errs.add("spec.validationActions", `"${a}" is not Deny, Warn or Audit`);
  if (actions.includes("Deny") && actions.includes("Warn"))
    errs.add("spec.validationActions", "Deny and Warn together are not allowed (as in Kubernetes)");
  let paramRef: DecodedBinding["paramRef"];
  if (spec["paramRef"] !== undefined) {
    const pr = isRecord(spec["paramRef"]) ? spec["paramRef"] : {};
    errs.unknownFields(pr, ["name", "namespace", "selector", "parameterNotFoundAction"], "spec.paramRef");
    const action = pr["parameterNotFoundAction"] ?? "Deny";
    if (action !== "Allow" && action !== "Deny")
      errs.add("spec.paramRef.parameterNotFoundAction", "must be Allow or Deny");
    const refName = errs.string(pr, "name", "spec.paramRef");
    const selector =
      pr["selector"] === undefined
        ? undefined
        : decodeSelector(pr["selector"], "spec.paramRef.selector", errs);
    if ((refName === undefined) === (selector === undefined))
      errs.add("spec.paramRef", "needs exactly one of name and selector");
    paramRef = {
      name: refName,
      namespace: errs.string(pr, "namespace", "spec.paramRef"),
      selector,
      notFound: action === "Allow" ? "Allow" : "Deny",
    };
  }
  return {
    doc,
    name,
    policyName,
    modes: [...new Set(actions.flatMap((a) => ACTION_MODES[a] ?? []))],
    matcher: decodeVapMatch(spec["matchResources"], "spec.matchResources", errs, false),
    paramRef,
    errors: errs,
  };
}

function nameAndNamespace(o: Record<string, unknown>): { name: string; namespace: string } {
  const meta = isRecord(o["metadata"]) ? o["metadata"] : {};
  return {
    name: typeof meta["name"] === "string" ? meta["name"] : "",
    namespace: typeof meta["namespace"] === "string" ? meta["namespace"] : "",
  };
}

/**
 * The param objects for one request, as the apiserver selects them: by name or selector,
 * in paramRef.namespace, or else (for namespaced params) in the request's namespace.
 */
function selectParams(
  ref: NonNullable<DecodedBinding["paramRef"]>,
  candidates: readonly Record<string, unknown>[],
  r: AdmissionRequest,
): unknown[] {
  return candidates.filter((o) => {
    const { name, namespace } = nameAndNamespace(o);
    const wantNs = ref.namespace ?? (namespace === "" ? "" : r.namespace);
    if (namespace !== wantNs) return false;
    if (ref.name !== undefined) return name === ref.name;
    return ref.selector !== undefined && selectorMatches(ref.selector, labelsOf(o));
  });
}

/**
 * Joins a policy and one of its bindings into the policy kubetrail evaluates. `params` are the
 * loaded documents of the policy's paramKind. Problems go to the binding's errors.
 */
export function bindVap(
  vap: DecodedVap,
  binding: DecodedBinding,
  params: readonly SourceDocument[],
): LoadedPolicy | undefined {
  const errs = binding.errors;
  if (vap.paramKind && !binding.paramRef)
    errs.add("spec.paramRef", `required: policy ${vap.name} has a paramKind`);
  if (!vap.paramKind && binding.paramRef) errs.add("spec.paramRef", `policy ${vap.name} has no paramKind`);
  if (!vap.matcher || !errs.empty || !vap.errors.empty) return undefined;
  const matchers = binding.matcher ? [vap.matcher, binding.matcher] : [vap.matcher];
  const candidates = params.map((p) => p.value);
  const ref = binding.paramRef;
  const describe =
    ref?.name !== undefined
      ? `paramRef ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`
      : "paramRef selector";
  const hash = policyHash(vap.doc.value, binding.doc.value, candidates);
  const applies = allOf(...matchers);
  return {
    name: vap.name,
    binding: binding.name,
    kind: "ValidatingAdmissionPolicy",
    source: sourceOf(vap.doc),
    version: hash.slice(0, 12),
    hash,
    modes: binding.modes,
    failurePolicy: vap.failurePolicy,
    applies,
    rules: vap.matcher.rules,
    exceptions: [],
    check(input) {
      const source: ParamSource = ref
        ? {
            kind: "objects",
            objects: selectParams(ref, candidates, input.request),
            notFound: ref.notFound,
            describe,
          }
        : { kind: "none" };
      return runCelChecks(vap.checks, source, input);
    },
  };
}
