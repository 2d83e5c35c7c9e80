import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../types.js";
import { attributesFromEvent, resourcePathName, urlPath } from "./attributes.js";

const base: AuditEvent = {
  level: "Metadata",
  auditID: "x",
  stage: "ResponseComplete",
  requestURI: "/healthz?verbose=1",
  verb: "get",
  user: { username: "alice", groups: ["devs"] },
  impersonatedUser: { username: "root", groups: ["system:masters"] },
  requestReceivedTimestamp: "",
  stageTimestamp: "",
};

describe("attributesFromEvent", () => {
  it("reads a non-resource request from its URL path, with the authenticated (not impersonated) user", () => {
    expect(attributesFromEvent(base)).toEqual({
      user: { name: "alice", groups: ["devs"] },
      verb: "get",
      resourceRequest: false,
      namespace: "",
      apiGroup: "",
      resource: "",
      subresource: "",
      name: "",
      path: "/healthz",
    });
  });

  it("reads a resource request from objectRef", () => {
    const a = attributesFromEvent({
      ...base,
      requestURI: "/apis/apps/v1/namespaces/web/deployments/api/scale",
      verb: "update",
      objectRef: {
        resource: "deployments",
        subresource: "scale",
        namespace: "web",
        name: "api",
        apiGroup: "apps",
        apiVersion: "v1",
      },
    });
    expect(a).toMatchObject({
      resourceRequest: true,
      namespace: "web",
      apiGroup: "apps",
      resource: "deployments",
      subresource: "scale",
      name: "api",
    });
  });

  it("treats an event without a user (failed authentication) as a request without user", () => {
    expect(attributesFromEvent({ ...base, user: {} }).user).toBeUndefined();
  });

  it("takes a create's name from the URL, as the policy saw it", () => {
    const create = {
      ...base,
      verb: "create",
      objectRef: { resource: "pods", namespace: "a", name: "from-body" },
    };
    expect(attributesFromEvent({ ...create, requestURI: "/api/v1/namespaces/a/pods?dryRun=All" }).name).toBe(
      "",
    );
    expect(attributesFromEvent({ ...create, requestURI: "/api/v1/namespaces/a/pods/p1/eviction" }).name).toBe(
      "p1",
    );
    expect(
      attributesFromEvent({ ...create, verb: "get", requestURI: "/api/v1/namespaces/a/pods" }).name,
    ).toBe("from-body");
  });
});

describe("URL parsing", () => {
  it.each([
    ["/api/v1/namespaces", ""],
    ["/api/v1/namespaces/kube-system", "kube-system"],
    ["/api/v1/namespaces/kube-system/finalize", "kube-system"],
    ["/api/v1/namespaces/a/secrets", ""],
    ["/apis/rbac.authorization.k8s.io/v1/clusterroles/edit", "edit"],
    ["/api/v1/watch/namespaces/a/pods/p", "p"],
    ["/version", undefined],
  ])("name of %s is %j", (path, name) => {
    expect(resourcePathName(path)).toBe(name);
  });

  it("strips the query and decodes the path", () => {
    expect(urlPath("/logs/a%20b?x=1")).toBe("/logs/a b");
  });
});
