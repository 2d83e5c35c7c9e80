import { describe, expect, it } from "vitest";
import type { AdmissionRequest } from "../types.js";
import { checkClusterAdminBinding, DEFAULT_CLUSTER_ADMIN_SETTINGS } from "./cluster-admin.js";

function req(
  operation: "CREATE" | "UPDATE",
  object: Record<string, unknown>,
  oldObject: Record<string, unknown> | null = null,
  resource = "clusterrolebindings",
): AdmissionRequest {
  return {
    uid: "u",
    kind: { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding" },
    resource: { group: "rbac.authorization.k8s.io", version: "v1", resource },
    subResource: "",
    name: "b",
    namespace: resource === "rolebindings" ? "team" : "",
    operation,
    userInfo: { username: "alice", groups: [] },
    object,
    oldObject,
    dryRun: false,
  };
}

const binding = (role: string, ...subjects: Record<string, string>[]) => ({
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
  subjects,
});
const check = (r: AdmissionRequest) =>
  checkClusterAdminBinding(r, DEFAULT_CLUSTER_ADMIN_SETTINGS).map((v) => v.field);

describe("no new cluster-admin bindings", () => {
  it("refuses users, groups and service accounts outside the system", () => {
    const b = binding(
      "cluster-admin",
      { kind: "User", name: "alice" },
      { kind: "Group", name: "system:masters" },
      { kind: "Group", name: "devs" },
      { kind: "ServiceAccount", name: "ci", namespace: "build" },
      { kind: "ServiceAccount", name: "x", namespace: "kube-system" },
      { kind: "User", name: "system:kube-controller-manager" },
    );
    expect(check(req("CREATE", b))).toEqual(["subjects[0]", "subjects[2]", "subjects[3]"]);
  });
  it("judges only the subjects an update adds", () => {
    const before = binding("cluster-admin", { kind: "User", name: "alice" });
    const after = binding("cluster-admin", { kind: "User", name: "alice" }, { kind: "User", name: "bob" });
    expect(check(req("UPDATE", after, before))).toEqual(["subjects[1]"]);
  });
  it("an update that points an existing binding at cluster-admin judges every subject", () => {
    const before = binding("view", { kind: "User", name: "alice" });
    const after = binding("cluster-admin", { kind: "User", name: "alice" });
    expect(check(req("UPDATE", after, before))).toEqual(["subjects[0]"]);
  });
  it("a RoleBinding to the cluster-admin ClusterRole counts too", () => {
    expect(
      check(req("CREATE", binding("cluster-admin", { kind: "User", name: "eve" }), null, "rolebindings")),
    ).toEqual(["subjects[0]"]);
  });
  it("other roles, a Role named cluster-admin, and other resources pass", () => {
    expect(check(req("CREATE", binding("view", { kind: "User", name: "alice" })))).toEqual([]);
    expect(
      check(
        req("CREATE", {
          roleRef: { kind: "Role", name: "cluster-admin" },
          subjects: [{ kind: "User", name: "a" }],
        }),
      ),
    ).toEqual([]);
    expect(
      check(req("CREATE", binding("cluster-admin", { kind: "User", name: "a" }), null, "clusterroles")),
    ).toEqual([]);
  });
});
