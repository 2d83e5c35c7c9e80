// Built-in rules about who may do what: RBAC grants, impersonation, tokens, anonymous access.
import type { AuditEvent } from "../../audit/types.js";
import type { Rule, RuleState } from "../types.js";
import { get, isSystemUser, records, requestBody, resourceIs, succeeded, username } from "./facts.js";

/** True when any rule of a Role/ClusterRole body grants `*` verbs or `*` resources. */
export function grantsWildcard(body: Record<string, unknown> | undefined): boolean {
  return records(body?.rules).some((r) => hasStar(r.verbs) || hasStar(r.resources));
}

function hasStar(list: unknown): boolean {
  return Array.isArray(list) && list.includes("*");
}

function roleKey(kind: string, namespace: string | undefined, name: string): string {
  return kind === "ClusterRole" ? `ClusterRole/${name}` : `Role/${namespace ?? ""}/${name}`;
}

// Each rule's verbs, once: the engine's index and the rule's own check read the same set.
const ROLE_WRITE_VERBS = new Set(["create", "update", "patch"]);
const BINDING_VERBS = new Set(["create", "update"]);
const TOKEN_VERBS = new Set(["create"]);

function roleWrite(e: AuditEvent): boolean {
  return resourceIs(e, "roles", "clusterroles") && ROLE_WRITE_VERBS.has(e.verb) && succeeded(e);
}

export const rbacRules: Rule[] = [
  {
    id: "wildcard-role",
    readsBodies: true,
    resources: new Set(["roles", "clusterroles"]),
    verbs: ROLE_WRITE_VERBS,
    title: "Role or ClusterRole granting * created",
    severity: "high",
    description: "A Role or ClusterRole was created or changed to grant every verb or every resource (`*`).",
    source: "builtin",
    match: (e) => roleWrite(e) && grantsWildcard(requestBody(e)),
    // Remember wildcard roles so that binding them later is recognised as a privileged grant.
    observe(e: AuditEvent, state: RuleState) {
      if (!roleWrite(e) || e.verb === "patch") return;
      const body = requestBody(e);
      const name = (get(body, "metadata", "name") as string | undefined) ?? e.objectRef?.name;
      if (!name) return;
      const kind = e.objectRef?.resource === "clusterroles" ? "ClusterRole" : "Role";
      const key = roleKey(kind, e.objectRef?.namespace, name);
      if (grantsWildcard(body)) state.wildcardRoles.add(key);
      else state.wildcardRoles.delete(key);
    },
  },
  {
    id: "privileged-binding",
    readsBodies: true,
    resources: new Set(["rolebindings", "clusterrolebindings"]),
    verbs: BINDING_VERBS,
    title: "Binding to cluster-admin or a * role",
    severity: "critical",
    description: "A RoleBinding or ClusterRoleBinding grants cluster-admin or a role that allows `*`.",
    source: "builtin",
    match(e, state) {
      if (!resourceIs(e, "rolebindings", "clusterrolebindings")) return false;
      if (!BINDING_VERBS.has(e.verb) || !succeeded(e)) return false;
      const ref = get(requestBody(e), "roleRef");
      const kind = get(ref, "kind");
      const name = get(ref, "name");
      if (typeof name !== "string") return false;
      if (kind === "ClusterRole" && name === "cluster-admin") return true;
      if (kind !== "ClusterRole" && kind !== "Role") return false;
      return state.wildcardRoles.has(roleKey(kind, e.objectRef?.namespace, name));
    },
  },
  {
    id: "anonymous-allowed",
    title: "Anonymous request allowed",
    severity: "high",
    description:
      "A request by system:anonymous succeeded (health and version probes excepted): anonymous access has been granted something.",
    source: "builtin",
    needs: (d) => d.anonymous && d.code !== undefined && d.code < 400,
    match(e) {
      const anonymous =
        username(e) === "system:anonymous" || (e.user?.groups ?? []).includes("system:unauthenticated");
      if (!anonymous || !succeeded(e) || e.responseStatus?.code === undefined) return false;
      return !/^\/(healthz|livez|readyz|version)(\/|\?|$)/.test(e.requestURI ?? "");
    },
  },
  {
    id: "impersonation",
    title: "Request made by impersonation",
    severity: "medium",
    description: "A user acted as another user or group (impersonation).",
    source: "builtin",
    needs: (d) => d.impersonated,
    match: (e) => e.impersonatedUser !== undefined && e.impersonatedUser !== null,
  },
  {
    id: "token-by-human",
    resources: new Set(["serviceaccounts"]),
    verbs: TOKEN_VERBS,
    title: "Service account token requested by a person",
    severity: "medium",
    description:
      "A non-system user requested a service account token (serviceaccounts/token), which can be used to act as that account.",
    source: "builtin",
    needs: (d) => d.subresource === "token" && !d.system,
    match: (e) =>
      resourceIs(e, "serviceaccounts") &&
      e.objectRef?.subresource === "token" &&
      TOKEN_VERBS.has(e.verb) &&
      succeeded(e) &&
      !isSystemUser(e),
  },
];
