import { describe, expect, it } from "vitest";
import { SECRET_EVENTS } from "../../test/fixtures/policy/secret-events.js";
import { createIngestTransform } from "./ingest-transform.js";
import { makePolicy, makeRule } from "../../test/fixtures/policy/policy-builders.js";
import type { Policy } from "./policy/types.js";
import { tagValue } from "./redact/tag.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent, type Level } from "./types.js";

const key = Buffer.alloc(32, 1);
const RULE = KUBETRAIL_ANNOTATIONS.policyRule;
const REDACTED = KUBETRAIL_ANNOTATIONS.redacted;

const podGet: AuditEvent = {
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  level: "RequestResponse",
  auditID: "a1",
  stage: "ResponseComplete",
  requestURI: "/api/v1/namespaces/default/pods/web",
  verb: "update",
  user: { username: "bob", groups: ["system:authenticated"] },
  objectRef: { resource: "pods", namespace: "default", name: "web", apiVersion: "v1" },
  requestObject: { kind: "Pod", metadata: { name: "web", managedFields: [{ manager: "kubectl" }] } },
  responseObject: {
    kind: "Pod",
    metadata: { name: "web", managedFields: [{ manager: "kubectl" }] },
    status: {},
  },
  requestReceivedTimestamp: "2026-11-21T05:58:25.096042Z",
  stageTimestamp: "2026-11-21T05:58:25.101233Z",
  annotations: { "authorization.k8s.io/decision": "allow" },
};

const levelPolicy = (level: Level, extra: Partial<Policy> = {}) =>
  makePolicy([makeRule({ level: "None", users: ["system:kube-proxy"] }), makeRule({ level })], extra);

describe("createIngestTransform", () => {
  it("without a policy only redacts, and records the masked paths", () => {
    const t = createIngestTransform({ redaction: { key } });
    expect(t(podGet)).toEqual(podGet);
    const get = SECRET_EVENTS.find((e) => e.auditID === "get-1")!;
    const out = t(get)!;
    expect(out.annotations).toEqual({ [REDACTED]: "responseObject.data.password" });
    expect((out.responseObject as { data: { password: string } }).data.password).toBe(
      tagValue(key, "hunter2-db-password", "text"),
    );
  });

  it("drops events at level None and events in an omitted stage", () => {
    const t = createIngestTransform({
      policy: levelPolicy("Metadata", { omitStages: ["RequestReceived"] }),
      redaction: { key },
    });
    expect(t({ ...podGet, user: { username: "system:kube-proxy" } })).toBeNull();
    expect(t({ ...podGet, stage: "RequestReceived" })).toBeNull();
    expect(t(podGet)).not.toBeNull();
  });

  it.each([
    ["Metadata", "RequestResponse", "Metadata", false, false],
    ["Request", "RequestResponse", "Request", true, false],
    ["RequestResponse", "RequestResponse", "RequestResponse", true, true],
    ["RequestResponse", "Metadata", "Metadata", false, false],
    ["RequestResponse", "Request", "Request", true, false],
  ] as [Level, Level, Level, boolean, boolean][])(
    "policy %s on an event sent at %s stores %s",
    (policyLevel, sent, stored, hasRequest, hasResponse) => {
      const input: AuditEvent = { ...podGet, level: sent };
      if (sent === "Metadata") {
        delete input.requestObject;
        delete input.responseObject;
      }
      if (sent === "Request") delete input.responseObject;
      const out = createIngestTransform({ policy: levelPolicy(policyLevel), redaction: { key } })(input)!;
      expect(out.level).toBe(stored);
      expect("requestObject" in out).toBe(hasRequest);
      expect("responseObject" in out).toBe(hasResponse);
      expect(out.annotations![RULE]).toBe("1");
      expect(out.annotations!["authorization.k8s.io/decision"]).toBe("allow");
    },
  );

  it("strips managedFields when the policy asks, from objects and list items but not from patch bodies", () => {
    const t = createIngestTransform({
      policy: levelPolicy("RequestResponse", { omitManagedFields: true }),
      redaction: { key },
    });
    const out = t(podGet)!;
    expect(out.requestObject).toEqual({ kind: "Pod", metadata: { name: "web" } });
    expect(out.responseObject).toEqual({ kind: "Pod", metadata: { name: "web" }, status: {} });
    const list = t({
      ...podGet,
      verb: "list",
      requestObject: undefined,
      responseObject: { items: [podGet.requestObject] },
    })!;
    expect(list.responseObject).toEqual({ items: [{ kind: "Pod", metadata: { name: "web" } }] });
    const patch = { metadata: { managedFields: null } };
    expect(t({ ...podGet, verb: "patch", requestObject: patch })!.requestObject).toEqual(patch);
    const keep = createIngestTransform({ policy: levelPolicy("RequestResponse"), redaction: { key } })(
      podGet,
    )!;
    expect(keep.requestObject).toEqual(podGet.requestObject);
  });

  it("removes forged kubetrail annotations and never modifies its input", () => {
    const before = JSON.stringify(podGet);
    const forged = { ...podGet, annotations: { [RULE]: "7", [REDACTED]: "nothing" } };
    const out = createIngestTransform({ redaction: { key } })(forged)!;
    expect(out.annotations).toEqual({});
    expect(JSON.stringify(podGet)).toBe(before);
  });

  it("evaluates a create as the apiserver did: without the name the body adds later", () => {
    const policy = makePolicy([
      makeRule({
        level: "RequestResponse",
        resources: [{ group: "", resources: ["secrets"], resourceNames: ["db"] }],
      }),
      makeRule({ level: "Metadata" }),
    ]);
    const t = createIngestTransform({ policy, redaction: { key } });
    const create = SECRET_EVENTS.find((e) => e.auditID === "create-1")!;
    expect(t(create)!.annotations![RULE]).toBe("1");
    const get = SECRET_EVENTS.find((e) => e.auditID === "get-1")!;
    expect(t(get)!.annotations![RULE]).toBe("0");
  });
});
