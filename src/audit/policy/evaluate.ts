// The apiserver's audit policy checker (pkg/audit/policy/checker.go) as of Kubernetes 1.36,
// rule for rule: first matching rule wins, no match means level None with the policy-wide
// omitStages; a resources entry with group "*" matches every API group.
import { STAGES, type Stage } from "../types.js";
import type { AuditDecision, GroupResources, Policy, PolicyRule, RequestAttributes } from "./types.js";

export interface PolicyEvaluator {
  /** The level, omitted stages and managedFields choice the kube-apiserver would give this request. */
  evaluate(attrs: RequestAttributes): AuditDecision;
}

/** Union of stage lists in canonical Stage order, without duplicates. */
export function unionStages(...lists: (readonly Stage[] | undefined)[]): Stage[] {
  const seen = new Set<Stage>();
  for (const list of lists) for (const s of list ?? []) seen.add(s);
  return STAGES.filter((s) => seen.has(s));
}

/**
 * Builds an evaluator for a validated policy. Rule-level omitStages are merged with the
 * policy-level ones up front (as NewPolicyRuleEvaluator does); the policy is not modified.
 */
export function createPolicyEvaluator(policy: Policy): PolicyEvaluator {
  const decisions: AuditDecision[] = policy.rules.map((rule, i) => ({
    level: rule.level,
    omitStages: unionStages(policy.omitStages, rule.omitStages),
    // A rule's own setting overrides the policy default only when the rule sets it.
    omitManagedFields: rule.omitManagedFields ?? policy.omitManagedFields,
    rule: i,
  }));
  const noMatch: AuditDecision = {
    level: "None",
    omitStages: unionStages(policy.omitStages),
    omitManagedFields: policy.omitManagedFields,
    rule: null,
  };
  const rules = policy.rules.map(compileRule);
  // The rules that can match a given verb and kind of request, in policy order: dropping the
  // others keeps first-match semantics and skips most rules of a long policy.
  const candidates = [new Map<string, number[]>(), new Map<string, number[]>()] as const;
  const candidatesFor = (verb: string, resourceRequest: boolean): number[] => {
    const byVerb = candidates[resourceRequest ? 1 : 0];
    const cached = byVerb.get(verb);
    if (cached !== undefined) return cached;
    const list: number[] = [];
    rules.forEach((r, i) => {
      if (r.verbs.length > 0 && !r.verbs.includes(verb)) return;
      const resourceRule = r.namespaces.length > 0 || r.resources.length > 0;
      if (resourceRule && !resourceRequest) return;
      if (!resourceRule && r.nonResourceURLs.length > 0 && resourceRequest) return;
      list.push(i);
    });
    if (byVerb.size >= MAX_CANDIDATE_LISTS) byVerb.clear();
    byVerb.set(verb, list);
    return list;
  };
  return {
    evaluate(attrs) {
      for (const i of candidatesFor(attrs.verb, attrs.resourceRequest)) {
        if (ruleMatches(rules[i]!, attrs)) return decisions[i]!;
      }
      return noMatch;
    },
  };
}

/** Verbs are a small set; the bound only guards against a stream of made-up ones. */
const MAX_CANDIDATE_LISTS = 1024;

/**
 * A rule with its resource entries grouped by API group (only the request's group is looked
 * at) and each entry's resource patterns sorted by form, so matching allocates nothing.
 */
interface CompiledRule extends PolicyRule {
  byGroup: Map<string, CompiledGroup[]>;
  /** Entries with group "*", which apply whatever the request's group. */
  anyGroup: CompiledGroup[];
}

interface CompiledGroup {
  /** No resources listed: every resource of the group. */
  all: boolean;
  resourceNames: string[];
  /** `*` was listed. */
  any: boolean;
  /** `resource` or `resource/subresource`, compared with the request's combined resource. */
  exact: Set<string>;
  /** From `*\/sub`: subresources of any resource. */
  subresources: Set<string>;
  /** From `resource/*`: the resource itself and all its subresources. */
  withSubresources: Set<string>;
}

function compileGroup(gr: GroupResources): CompiledGroup {
  const g: CompiledGroup = {
    all: gr.resources.length === 0,
    resourceNames: gr.resourceNames,
    any: false,
    exact: new Set(),
    subresources: new Set(),
    withSubresources: new Set(),
  };
  for (const res of gr.resources) {
    if (res === "*") g.any = true;
    else g.exact.add(res);
    if (res.startsWith("*/")) g.subresources.add(res.slice(2));
    if (res.endsWith("/*")) g.withSubresources.add(res.slice(0, -2));
  }
  return g;
}

function compileRule(rule: PolicyRule): CompiledRule {
  const byGroup = new Map<string, CompiledGroup[]>();
  const anyGroup: CompiledGroup[] = [];
  for (const gr of rule.resources) {
    if (gr.group === "*") anyGroup.push(compileGroup(gr));
    else byGroup.set(gr.group, [...(byGroup.get(gr.group) ?? []), compileGroup(gr)]);
  }
  return { ...rule, byGroup, anyGroup };
}

const NO_GROUPS: CompiledGroup[] = [];

// Every condition is a pure AND, so checking the cheap, selective verbs first changes
// nothing but speed.
function ruleMatches(r: CompiledRule, attrs: RequestAttributes): boolean {
  if (r.verbs.length > 0 && !r.verbs.includes(attrs.verb)) return false;
  const user = attrs.user;
  if (r.users.length > 0 && (user === undefined || !r.users.includes(user.name))) return false;
  if (r.userGroups.length > 0) {
    if (user === undefined || !hasAny(r.userGroups, user.groups)) return false;
  }
  if (r.namespaces.length > 0 || r.resources.length > 0) return ruleMatchesResource(r, attrs);
  if (r.nonResourceURLs.length > 0) return ruleMatchesNonResource(r, attrs);
  return true;
}

function ruleMatchesNonResource(r: CompiledRule, attrs: RequestAttributes): boolean {
  if (attrs.resourceRequest) return false;
  return r.nonResourceURLs.some((spec) => pathMatches(attrs.path, spec));
}

/** `*` matches all, otherwise exact, or a prefix when the spec ends in `*` (all trailing `*` trimmed). */
export function pathMatches(path: string, spec: string): boolean {
  if (spec === "*" || spec === path) return true;
  return spec.endsWith("*") && path.startsWith(spec.replace(/\*+$/, ""));
}

function ruleMatchesResource(r: CompiledRule, attrs: RequestAttributes): boolean {
  if (!attrs.resourceRequest) return false;
  // Cluster-scoped resources have the namespace "".
  if (r.namespaces.length > 0 && !r.namespaces.includes(attrs.namespace)) return false;
  if (r.resources.length === 0) return true;

  const { resource, subresource } = attrs;
  const combined = subresource !== "" ? `${resource}/${subresource}` : resource;
  // Entry order does not matter: the rule matches when any entry does.
  return (
    groupsMatch(r.byGroup.get(attrs.apiGroup) ?? NO_GROUPS, attrs, combined) ||
    groupsMatch(r.anyGroup, attrs, combined)
  );
}

function groupsMatch(groups: CompiledGroup[], attrs: RequestAttributes, combined: string): boolean {
  const { resource, subresource } = attrs;
  for (const g of groups) {
    if (g.all) return true;
    if (g.resourceNames.length > 0 && !g.resourceNames.includes(attrs.name)) continue;
    if (g.any || g.exact.has(combined) || g.withSubresources.has(resource)) return true;
    if (subresource !== "" && g.subresources.has(subresource)) return true;
  }
  return false;
}

function hasAny(wanted: readonly string[], have: readonly string[]): boolean {
  for (const h of have) if (wanted.includes(h)) return true;
  return false;
}
