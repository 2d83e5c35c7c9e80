// The audit.k8s.io Policy as kubetrail holds it after parsing: the shape of
// staging/src/k8s.io/apiserver/pkg/apis/audit/types.go (Policy, PolicyRule, GroupResources).
import type { Level, Stage } from "../types.js";

export interface GroupResources {
  /** API group; "" is the core group. */
  group: string;
  /** Resource names, `resource/subresource`, `*`, `resource/*` or `*\/subresource`. Empty means all. */
  resources: string[];
  resourceNames: string[];
}

export interface PolicyRule {
  level: Level;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  /** `""` matches cluster-scoped resources. */
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: Stage[];
  /** undefined means "use the policy default". */
  omitManagedFields?: boolean;
}

export interface Policy {
  apiVersion: string;
  omitStages: Stage[];
  omitManagedFields: boolean;
  rules: PolicyRule[];
}

/** What the apiserver's authorizer.Attributes carry that the policy checker reads. */
export interface RequestAttributes {
  /** undefined for an unauthenticated request (no user at all). */
  user?: { name: string; groups: string[] };
  verb: string;
  resourceRequest: boolean;
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  name: string;
  /** URL path without query, used for non-resource requests. */
  path: string;
}

/** The outcome of evaluating a policy for one request. */
export interface AuditDecision {
  level: Level;
  /** Sorted in Stage order, deduplicated. */
  omitStages: Stage[];
  omitManagedFields: boolean;
  /** Index of the matching rule, or null when no rule matched (level None). */
  rule: number | null;
}
