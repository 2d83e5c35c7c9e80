// Every built-in rule, in the order `rules list` shows them.
import type { Rule } from "../types.js";
import { rbacRules } from "./rbac.js";
import { secretRules } from "./secrets.js";
import { workloadRules } from "./workloads.js";

/**
 * The control plane's own identities. Their requests are the apiserver creating its bootstrap
 * roles and bindings on a fresh etcd, its and the controller-manager's cluster-wide watches of
 * Secrets (which end, and are audited, whenever they stop), the aggregation controller filling
 * aggregated ClusterRoles: built-in rules alert on none of it. The apiserver's own identity
 * (system:apiserver) has an in-memory credential no client can hold. Replace the list with
 * `controlPlane.users` in the rules config (`[]` alerts on everything).
 */
export const DEFAULT_CONTROL_PLANE_USERS: readonly string[] = [
  "system:apiserver",
  "system:kube-controller-manager",
  "system:kube-scheduler",
  "system:serviceaccount:kube-system:clusterrole-aggregation-controller",
];

/**
 * Fresh copies each call, so per-run configuration (thresholds) never leaks between
 * detectors; each exempts `controlPlaneUsers` (default DEFAULT_CONTROL_PLANE_USERS).
 */
export function builtinRules(controlPlaneUsers: readonly string[] = DEFAULT_CONTROL_PLANE_USERS): Rule[] {
  return [...workloadRules, ...rbacRules, ...secretRules].map((r) => ({
    ...r,
    window: r.window && { ...r.window },
    allow: { users: [...controlPlaneUsers], groups: [], namespaces: [] },
  }));
}
