// Which requests a policy applies to: resource rules as admission webhooks and
// ValidatingAdmissionPolicy write them, namespaces by name and by label, objects by label,
// and who is asking. Decoded from kubetrail's `match` and from VAP matchConstraints /
// binding matchResources into one Matcher.
import { globMatcher } from "../../detect/glob.js";
import { isRecord } from "../../json/record.js";
import { OPERATIONS, type AdmissionRequest, type Operation } from "../types.js";
import type { FieldErrors } from "./field-errors.js";
import { decodeSelector, EVERYTHING, labelsOf, selectorMatches, type LabelSelector } from "./selector.js";

export interface ResourceRule {
  groups: string[];
  versions: string[];
  /** "pods", "pods/exec", "pods/*", "*" (no subresources), "*\/*", "*\/scale". */
  resources: string[];
  /** kubetrail's shorthand: kind names; empty means "by resources only". */
  kinds: string[];
  operations: (Operation | "*")[];
  scope: "*" | "Cluster" | "Namespaced";
  resourceNames: string[];
}

export interface SubjectMatch {
  users: ((v: string) => boolean)[];
  groups: ((v: string) => boolean)[];
  /** Service accounts as namespace/name globs. */
  serviceAccounts: ((v: string) => boolean)[];
}

export interface Matcher {
  rules: ResourceRule[];
  excludeRules: ResourceRule[];
  namespaces: ((v: string) => boolean)[];
  excludeNamespaces: ((v: string) => boolean)[];
  namespaceSelector: LabelSelector;
  objectSelector: LabelSelector;
  subjects?: SubjectMatch;
  excludeSubjects?: SubjectMatch;
}

export interface MatchInput {
  request: AdmissionRequest;
  /** Labels of the request's namespace; undefined when kubetrail does not know them. */
  namespaceLabels: Readonly<Record<string, string>> | undefined;
}

const SA_PREFIX = "system:serviceaccount:";

function anyOf(matchers: readonly ((v: string) => boolean)[], value: string): boolean {
  for (const m of matchers) if (m(value)) return true;
  return false;
}

function listMatches(list: readonly string[], value: string): boolean {
  return list.includes("*") || list.includes(value);
}

/** `pattern.slice(from, to)` is "*" or `value`, compared in place (every policy, every review). */
function partMatches(pattern: string, from: number, to: number, value: string): boolean {
  if (to - from === 1 && pattern.charCodeAt(from) === 42 /* * */) return true;
  return to - from === value.length && pattern.startsWith(value, from);
}

function resourceMatches(patterns: readonly string[], resource: string, sub: string): boolean {
  for (const p of patterns) {
    const slash = p.indexOf("/");
    if (slash === -1) {
      if (sub === "" && partMatches(p, 0, p.length, resource)) return true;
    } else if (partMatches(p, 0, slash, resource) && partMatches(p, slash + 1, p.length, sub)) return true;
  }
  return false;
}

function ruleMatches(rule: ResourceRule, r: AdmissionRequest): boolean {
  if (!rule.operations.includes("*") && !rule.operations.includes(r.operation)) return false;
  if (!listMatches(rule.groups, r.resource.group)) return false;
  if (!listMatches(rule.versions, r.resource.version)) return false;
  const byKind = rule.kinds.length > 0 && (rule.kinds.includes("*") || rule.kinds.includes(r.kind.kind));
  const byResource =
    rule.resources.length > 0 && resourceMatches(rule.resources, r.resource.resource, r.subResource);
  if (!byKind && !byResource) return false;
  if (rule.scope !== "*" && (rule.scope === "Namespaced") !== (r.namespace !== "")) return false;
  if (rule.resourceNames.length > 0 && !rule.resourceNames.includes(r.name)) return false;
  return true;
}

function anyRuleMatches(rules: readonly ResourceRule[], r: AdmissionRequest): boolean {
  for (const rule of rules) if (ruleMatches(rule, r)) return true;
  return false;
}

function subjectMatches(s: SubjectMatch, r: AdmissionRequest): boolean {
  const name = r.userInfo.username;
  if (anyOf(s.users, name)) return true;
  for (const g of r.userInfo.groups) if (anyOf(s.groups, g)) return true;
  if (name.startsWith(SA_PREFIX) && anyOf(s.serviceAccounts, name.slice(SA_PREFIX.length).replace(":", "/")))
    return true;
  return false;
}

/**
 * True when the policy applies. As in Kubernetes: the namespace selector is ignored for
 * cluster-scoped objects other than Namespaces, a Namespace is selected by its own labels,
 * and the object selector matches when either the new or the old object's labels match.
 * Unknown namespace labels count as none, except kubernetes.io/metadata.name.
 */
export function matches(m: Matcher, input: MatchInput): boolean {
  const r = input.request;
  if (!anyRuleMatches(m.rules, r) || anyRuleMatches(m.excludeRules, r)) return false;
  const isNamespace = r.resource.group === "" && r.resource.resource === "namespaces";
  const ns = isNamespace ? r.name : r.namespace;
  if (m.namespaces.length > 0 && (ns === "" || !anyOf(m.namespaces, ns))) return false;
  if (ns !== "" && anyOf(m.excludeNamespaces, ns)) return false;
  if (m.namespaceSelector.requirements.length > 0 && ns !== "") {
    const labels = isNamespace
      ? { ...labelsOf(r.object ?? r.oldObject), "kubernetes.io/metadata.name": ns }
      : (input.namespaceLabels ?? { "kubernetes.io/metadata.name": ns });
    if (!selectorMatches(m.namespaceSelector, labels)) return false;
  }
  if (
    m.objectSelector.requirements.length > 0 &&
    !selectorMatches(m.objectSelector, labelsOf(r.object)) &&
    !selectorMatches(m.objectSelector, labelsOf(r.oldObject))
  )
    return false;
  if (m.subjects && !subjectMatches(m.subjects, r)) return false;
  if (m.excludeSubjects && subjectMatches(m.excludeSubjects, r)) return false;
  return true;
}

function operations(value: string[], at: string, errs: FieldErrors): (Operation | "*")[] {
  for (const op of value)
    if (op !== "*" && !(OPERATIONS as readonly string[]).includes(op))
      errs.add(at, `"${op}" is not an operation (${OPERATIONS.join(", ")}, *)`);
  return value as (Operation | "*")[];
}

/** A kubetrail `resources` entry: apiGroups, apiVersions, kinds and/or resources, operations. */
function decodeGuardRule(v: unknown, at: string, errs: FieldErrors): ResourceRule | undefined {
  if (!isRecord(v)) {
    errs.add(at, "must be an object (apiGroups, kinds or resources, operations)");
    return undefined;
  }
  errs.unknownFields(
    v,
    ["apiGroups", "apiVersions", "kinds", "resources", "operations", "scope", "names"],
    at,
  );
  const kinds = errs.strings(v, "kinds", at);
  const resources = errs.strings(v, "resources", at);
  if (kinds.length === 0 && resources.length === 0) errs.add(at, "needs kinds or resources");
  const scope = errs.string(v, "scope", at) ?? "*";
  if (scope !== "*" && scope !== "Cluster" && scope !== "Namespaced")
    errs.add(`${at}.scope`, "must be *, Cluster or Namespaced");
  return {
    groups: errs.strings(v, "apiGroups", at, ["*"]),
    versions: errs.strings(v, "apiVersions", at, ["*"]),
    kinds,
    resources,
    operations: operations(errs.strings(v, "operations", at, ["CREATE", "UPDATE"]), `${at}.operations`, errs),
    scope: scope as ResourceRule["scope"],
    resourceNames: errs.strings(v, "names", at),
  };
}

function decodeSubjects(
  v: Record<string, unknown>,
  prefix: "" | "exclude",
  at: string,
  errs: FieldErrors,
): SubjectMatch | undefined {
  const key = (k: string) => (prefix === "" ? k : `exclude${k[0]!.toUpperCase()}${k.slice(1)}`);
  const users = errs.strings(v, key("users"), at);
  const groups = errs.strings(v, key("groups"), at);
  const serviceAccounts = errs.strings(v, key("serviceAccounts"), at);
  serviceAccounts.forEach((sa, i) => {
    if (!/^[^/]+\/[^/]+$/.test(sa))
      errs.add(`${at}.${key("serviceAccounts")}[${i}]`, `"${sa}" is not NAMESPACE/NAME (globs allowed)`);
  });
  if (users.length + groups.length + serviceAccounts.length === 0) return undefined;
  return {
    users: users.map(globMatcher),
    groups: groups.map(globMatcher),
    serviceAccounts: serviceAccounts.map(globMatcher),
  };
}

export const GUARD_MATCH_FIELDS = [
  "resources",
  "excludeResources",
  "namespaces",
  "excludeNamespaces",
  "namespaceSelector",
  "objectSelector",
  "users",
  "groups",
  "serviceAccounts",
  "excludeUsers",
  "excludeGroups",
  "excludeServiceAccounts",
] as const;

/** kubetrail's `spec.match`; `defaults` supplies resources when the policy names none (built-ins). */
export function decodeGuardMatch(
  v: unknown,
  at: string,
  errs: FieldErrors,
  defaults?: ResourceRule[],
): Matcher {
  const m = isRecord(v) ? v : {};
  if (v !== undefined && !isRecord(v)) errs.add(at, "must be an object");
  errs.unknownFields(m, GUARD_MATCH_FIELDS, at);
  const rawRules = errs.array(m, "resources", at);
  if (rawRules.length === 0 && defaults === undefined)
    errs.add(`${at}.resources`, "required: which kinds or resources the policy checks");
  const rules =
    rawRules.length === 0
      ? (defaults ?? [])
      : rawRules.flatMap((r, i) => decodeGuardRule(r, `${at}.resources[${i}]`, errs) ?? []);
  const excludeRules = errs
    .array(m, "excludeResources", at)
    .flatMap((r, i) => decodeGuardRule(r, `${at}.excludeResources[${i}]`, errs) ?? []);
  return {
    rules,
    excludeRules,
    namespaces: errs.strings(m, "namespaces", at).map(globMatcher),
    excludeNamespaces: errs.strings(m, "excludeNamespaces", at).map(globMatcher),
    namespaceSelector: decodeSelector(m["namespaceSelector"], `${at}.namespaceSelector`, errs),
    objectSelector: decodeSelector(m["objectSelector"], `${at}.objectSelector`, errs),
    subjects: decodeSubjects(m, "", at, errs),
    excludeSubjects: decodeSubjects(m, "exclude", at, errs),
  };
}

/** A VAP NamedRuleWithOperations. */
function decodeVapRule(v: unknown, at: string, errs: FieldErrors): ResourceRule | undefined {
  if (!isRecord(v)) {
    errs.add(at, "must be an object");
    return undefined;
  }
  errs.unknownFields(
    v,
    ["apiGroups", "apiVersions", "resources", "operations", "scope", "resourceNames"],
    at,
  );
  const scope = errs.string(v, "scope", at) ?? "*";
  if (scope !== "*" && scope !== "Cluster" && scope !== "Namespaced")
    errs.add(`${at}.scope`, "must be *, Cluster or Namespaced");
  const rule: ResourceRule = {
    groups: errs.strings(v, "apiGroups", at),
    versions: errs.strings(v, "apiVersions", at),
    resources: errs.strings(v, "resources", at),
    kinds: [],
    operations: operations(errs.strings(v, "operations", at), `${at}.operations`, errs),
    scope: scope as ResourceRule["scope"],
    resourceNames: errs.strings(v, "resourceNames", at),
  };
  for (const f of ["apiGroups", "apiVersions", "resources", "operations"] as const)
    if (!Array.isArray(v[f]) || (v[f] as unknown[]).length === 0) errs.add(`${at}.${f}`, "required");
  return rule;
}

/**
 * A VAP's matchConstraints or a binding's matchResources. matchPolicy Equivalent (the default)
 * is honoured by ignoring apiVersions: kubetrail cannot convert an object to another version
 * the way the apiserver would, so it evaluates the object as the request carries it.
 */
export function decodeVapMatch(
  v: unknown,
  at: string,
  errs: FieldErrors,
  required: boolean,
): Matcher | undefined {
  if (v === undefined || v === null) {
    if (required) errs.add(at, "required");
    return undefined;
  }
  if (!isRecord(v)) {
    errs.add(at, "must be an object");
    return undefined;
  }
  errs.unknownFields(
    v,
    ["resourceRules", "excludeResourceRules", "namespaceSelector", "objectSelector", "matchPolicy"],
    at,
  );
  const policy = errs.string(v, "matchPolicy", at) ?? "Equivalent";
  if (policy !== "Equivalent" && policy !== "Exact")
    errs.add(`${at}.matchPolicy`, "must be Equivalent or Exact");
  const loosen = (r: ResourceRule): ResourceRule => (policy === "Equivalent" ? { ...r, versions: ["*"] } : r);
  const rules = errs
    .array(v, "resourceRules", at)
    .flatMap((r, i) => decodeVapRule(r, `${at}.resourceRules[${i}]`, errs) ?? []);
  if (required && rules.length === 0) errs.add(`${at}.resourceRules`, "required");
  return {
    // A binding without resourceRules narrows nothing by resource.
    rules: (rules.length === 0 ? [ANY_RESOURCE] : rules).map(loosen),
    excludeRules: errs
      .array(v, "excludeResourceRules", at)
      .flatMap((r, i) => decodeVapRule(r, `${at}.excludeResourceRules[${i}]`, errs) ?? [])
      .map(loosen),
    namespaces: [],
    excludeNamespaces: [],
    namespaceSelector: decodeSelector(v["namespaceSelector"], `${at}.namespaceSelector`, errs),
    objectSelector: decodeSelector(v["objectSelector"], `${at}.objectSelector`, errs),
  };
}

const ANY_RESOURCE: ResourceRule = {
  groups: ["*"],
  versions: ["*"],
  resources: ["*/*"],
  kinds: [],
  operations: ["*"],
  scope: "*",
  resourceNames: [],
};

/** Both must match: a VAP's constraints and its binding's narrowing. */
export function allOf(...matchers: Matcher[]): (input: MatchInput) => boolean {
  return (input) => matchers.every((m) => matches(m, input));
}

export { EVERYTHING };
