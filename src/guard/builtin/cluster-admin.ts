// No new cluster-admin bindings to anyone but the system: a RoleBinding or ClusterRoleBinding
// to the cluster-admin ClusterRole may only name system users and groups and kube-system
// service accounts. On an update only the subjects it adds are judged, so an existing
// binding can still be edited.
import { isRecord } from "../../json/record.js";
import type { AdmissionRequest, Violation } from "../types.js";

export interface ClusterAdminSettings {
  /** ClusterRoles treated like cluster-admin. */
  roles: string[];
}

export const DEFAULT_CLUSTER_ADMIN_SETTINGS: ClusterAdminSettings = { roles: ["cluster-admin"] };

interface Subject {
  kind: string;
  name: string;
  namespace: string;
}

function subjectsOf(obj: Record<string, unknown> | null): Subject[] {
  const list = obj?.["subjects"];
  if (!Array.isArray(list)) return [];
  return list.map((s: unknown) => {
    const r = isRecord(s) ? s : {};
    return {
      kind: typeof r["kind"] === "string" ? r["kind"] : "",
      name: typeof r["name"] === "string" ? r["name"] : "",
      namespace: typeof r["namespace"] === "string" ? r["namespace"] : "",
    };
  });
}

function grantsAdmin(obj: Record<string, unknown> | null, roles: readonly string[]): boolean {
  const ref = obj?.["roleRef"];
  return isRecord(ref) && ref["kind"] === "ClusterRole" && roles.includes(ref["name"] as string);
}

/** system:… users and groups, and service accounts of kube-system, are the system's own. */
export function isSystemSubject(s: Subject): boolean {
  if (s.kind === "ServiceAccount") return s.namespace === "kube-system";
  return s.name.startsWith("system:");
}

const key = (s: Subject) => `${s.kind}\u0000${s.namespace}\u0000${s.name}`;

export function checkClusterAdminBinding(r: AdmissionRequest, s: ClusterAdminSettings): Violation[] {
  if (r.resource.group !== "rbac.authorization.k8s.io") return [];
  if (r.resource.resource !== "clusterrolebindings" && r.resource.resource !== "rolebindings") return [];
  if (r.operation !== "CREATE" && r.operation !== "UPDATE") return [];
  if (!grantsAdmin(r.object, s.roles)) return [];
  const before = grantsAdmin(r.oldObject, s.roles)
    ? new Set(subjectsOf(r.oldObject).map(key))
    : new Set<string>();
  const role = (r.object?.["roleRef"] as Record<string, unknown>)["name"] as string;
  return subjectsOf(r.object).flatMap((sub, i) =>
    isSystemSubject(sub) || before.has(key(sub))
      ? []
      : [
          {
            check: "clusterAdminSubject",
            field: `subjects[${i}]`,
            message: `binding grants ${role} to ${sub.kind} ${sub.namespace ? `${sub.namespace}/` : ""}${sub.name}, which is not a system subject`,
          },
        ],
  );
}
