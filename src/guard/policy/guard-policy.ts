// kubetrail's own policy document, kubetrail.dev/v1 GuardPolicy (see docs/guardrails.md):
// a match, a mode, and either CEL validations (ValidatingAdmissionPolicy's field names and
// variables) or a built-in check with its settings, plus exceptions.
import { isRecord } from "../../json/record.js";
import {
  BUILTIN_LIBRARY_VERSION,
  builtinNamed,
  BUILTINS,
  settingsObject,
  type BuiltinDefinition,
} from "../builtin/catalog.js";
import type { SourceDocument } from "../documents.js";
import { MODES, type FailurePolicy, type Mode } from "../types.js";
import { compilePolicyChecks, runCelChecks, type ParamSource } from "./cel-checks.js";
import { decodeExceptions, type PolicyException } from "./exceptions.js";
import { FieldErrors } from "./field-errors.js";
import { decodeGuardMatch, matches, type Matcher } from "./match.js";
import { policyHash } from "./policy-hash.js";
import type { LoadedPolicy } from "./policy.js";

export const GUARD_API_VERSION = "kubetrail.dev/v1";
export const GUARD_POLICY_KIND = "GuardPolicy";

const SPEC_FIELDS = [
  "description",
  "mode",
  "failurePolicy",
  "match",
  "builtin",
  "settings",
  "params",
  "matchConditions",
  "variables",
  "validations",
  "auditAnnotations",
  "exceptions",
];

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function sourceOf(doc: SourceDocument): string {
  return `${doc.file}:${doc.line}`;
}

function versionOf(meta: Record<string, unknown>, hash: string): string {
  const ann = isRecord(meta["annotations"]) ? meta["annotations"] : {};
  const v = ann["kubetrail.dev/version"];
  return typeof v === "string" && v !== "" ? v : hash.slice(0, 12);
}

function decodeMode(spec: Record<string, unknown>, errs: FieldErrors, fallback: Mode): Mode[] {
  const m = spec["mode"] ?? fallback;
  if (m === "off") return [];
  if (!(MODES as readonly unknown[]).includes(m)) {
    errs.add("spec.mode", "must be enforce, warn, audit or off");
    return [fallback];
  }
  return [m as Mode];
}

export function decodeFailurePolicy(v: unknown, at: string, errs: FieldErrors): FailurePolicy {
  if (v === undefined || v === null) return "Fail";
  if (v !== "Fail" && v !== "Ignore") errs.add(at, "must be Fail or Ignore");
  return v === "Ignore" ? "Ignore" : "Fail";
}

interface Common {
  name: string;
  source: string;
  version: string;
  hash: string;
  modes: Mode[];
  failurePolicy: FailurePolicy;
  matcher: Matcher;
  exceptions: PolicyException[];
}

function builtinPolicy(def: BuiltinDefinition, c: Common, settings: unknown): LoadedPolicy {
  return {
    name: c.name,
    kind: "builtin",
    source: c.source,
    version: c.version,
    hash: c.hash,
    modes: c.modes,
    failurePolicy: c.failurePolicy,
    applies: (input) => matches(c.matcher, input),
    rules: c.matcher.rules,
    exceptions: c.exceptions,
    check: (input) => ({ violations: def.check(input, settings) }),
  };
}

/** A built-in as it runs when no policy file configures it: audit mode, its default resources. */
export function defaultBuiltin(def: BuiltinDefinition): LoadedPolicy {
  const errs = new FieldErrors();
  const settings = def.settings({}, "settings", errs);
  const hash = policyHash(BUILTIN_LIBRARY_VERSION, def.name, { mode: "audit", settings });
  return builtinPolicy(
    def,
    {
      name: def.name,
      source: "builtin",
      version: BUILTIN_LIBRARY_VERSION,
      hash,
      modes: ["audit"],
      failurePolicy: "Ignore",
      matcher: decodeGuardMatch(undefined, "match", errs, def.defaultRules),
      exceptions: [],
    },
    settings,
  );
}

export interface DecodedGuardPolicy {
  policy?: LoadedPolicy;
  /** The built-in this document configures, so its default instance is not added. */
  builtin?: string;
  errors: FieldErrors;
}

/** Decodes and compiles one GuardPolicy document; every problem is in `errors`. */
export function decodeGuardPolicy(doc: SourceDocument): DecodedGuardPolicy {
  const errs = new FieldErrors();
  const v = doc.value;
  errs.unknownFields(v, ["apiVersion", "kind", "metadata", "spec"], "");
  const meta = isRecord(v["metadata"]) ? v["metadata"] : {};
  const name = typeof meta["name"] === "string" ? meta["name"] : "";
  if (!NAME.test(name)) errs.add("metadata.name", "required: a lowercase DNS name");
  const spec = isRecord(v["spec"]) ? v["spec"] : {};
  if (!isRecord(v["spec"])) errs.add("spec", "required");
  errs.unknownFields(spec, SPEC_FIELDS, "spec");
  const builtinName = errs.string(spec, "builtin", "spec");
  const def = builtinName === undefined ? undefined : builtinNamed(builtinName);
  if (builtinName !== undefined && def === undefined)
    errs.add(
      "spec.builtin",
      `unknown built-in "${builtinName}" (known: ${BUILTINS.map((b) => b.name).join(", ")})`,
    );
  const hash = policyHash(v["spec"], def ? BUILTIN_LIBRARY_VERSION : undefined);
  const common: Common = {
    name,
    source: sourceOf(doc),
    version: versionOf(meta, hash),
    hash,
    modes: decodeMode(spec, errs, def ? "audit" : "enforce"),
    failurePolicy: decodeFailurePolicy(spec["failurePolicy"], "spec.failurePolicy", errs),
    matcher: decodeGuardMatch(spec["match"], "spec.match", errs, def?.defaultRules),
    exceptions: decodeExceptions(spec["exceptions"], "spec.exceptions", errs),
  };
  if (def) {
    for (const k of ["params", "matchConditions", "variables", "validations", "auditAnnotations"])
      if (spec[k] !== undefined) errs.add(`spec.${k}`, "not allowed with spec.builtin");
    const settings = def.settings(
      settingsObject(spec["settings"], "spec.settings", errs),
      "spec.settings",
      errs,
    );
    return {
      policy: errs.empty ? builtinPolicy(def, common, settings) : undefined,
      builtin: def.name,
      errors: errs,
    };
  }
  if (spec["settings"] !== undefined) errs.add("spec.settings", "only for spec.builtin policies");
  const hasParams = spec["params"] !== undefined;
  const checks = compilePolicyChecks(spec, errs, hasParams);
  const params: ParamSource = hasParams
    ? { kind: "objects", objects: [spec["params"]], notFound: "Deny", describe: "spec.params" }
    : { kind: "none" };
  if (!errs.empty) return { errors: errs };
  return {
    errors: errs,
    policy: {
      name: common.name,
      kind: "GuardPolicy",
      source: common.source,
      version: common.version,
      hash: common.hash,
      modes: common.modes,
      failurePolicy: common.failurePolicy,
      applies: (input) => matches(common.matcher, input),
      rules: common.matcher.rules,
      exceptions: common.exceptions,
      check: (input) => runCelChecks(checks, params, input),
    },
  };
}
