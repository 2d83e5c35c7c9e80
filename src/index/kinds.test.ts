import { describe, expect, it } from "vitest";
import { IndexError } from "./errors.js";
import { parseKindName, resourceForKind } from "./kinds.js";

describe("resourceForKind", () => {
  it("maps kinds, short names and plurals to resource and group", () => {
    expect(resourceForKind("deployment")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(resourceForKind("Deployment")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(resourceForKind("deploy")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(resourceForKind("deployments.apps")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(resourceForKind("cm")).toEqual({ resource: "configmaps", apiGroup: "" });
    expect(resourceForKind("configmap")).toEqual({ resource: "configmaps", apiGroup: "" });
    expect(resourceForKind("clusterrolebinding")).toEqual({
      resource: "clusterrolebindings",
      apiGroup: "rbac.authorization.k8s.io",
    });
  });

  it("falls back to the plural for unknown kinds", () => {
    expect(resourceForKind("widget")).toEqual({ resource: "widgets" });
    expect(resourceForKind("policy.example.com")).toEqual({ resource: "policies", apiGroup: "example.com" });
    expect(resourceForKind("gateway.networking.k8s.io")).toEqual({
      resource: "gateways",
      apiGroup: "networking.k8s.io",
    });
  });

  it("rejects what is not KIND/NAME", () => {
    expect(parseKindName("cm/app-config")).toEqual({
      resource: { resource: "configmaps", apiGroup: "" },
      name: "app-config",
    });
    for (const bad of ["deploy", "/web", "deploy/", "9x/web"]) {
      expect(() => parseKindName(bad), bad).toThrow(IndexError);
    }
  });
});

describe("kubectl spellings", () => {
  it("knows short names, the core group spelled empty, and which kinds are cluster-scoped", async () => {
    const { isClusterScoped } = await import("./kinds.js");
    expect(resourceForKind("crb")).toEqual({
      resource: "clusterrolebindings",
      apiGroup: "rbac.authorization.k8s.io",
    });
    expect(resourceForKind("sa")).toEqual({ resource: "serviceaccounts", apiGroup: "" });
    expect(resourceForKind("pods.")).toEqual({ resource: "pods", apiGroup: "" });
    expect(resourceForKind("deployments.apps")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(isClusterScoped(resourceForKind("crb"))).toBe(true);
    expect(isClusterScoped(resourceForKind("ns"))).toBe(true);
    expect(isClusterScoped(resourceForKind("deploy"))).toBe(false);
    expect(isClusterScoped(resourceForKind("widget.example.com"))).toBe(false);
  });
});
