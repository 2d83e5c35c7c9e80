import { describe, expect, it } from "vitest";
import { b64, SECRET_EVENTS, SECRET_VALUES } from "../../../test/fixtures/policy/secret-events.js";
import type { AuditEvent } from "../types.js";
import { createRedactor } from "./redact-event.js";
import { RedactionRuleError } from "./rules.js";
import { tagMatches, tagValue } from "./tag.js";

const key = Buffer.alloc(32, 0x5a);
const redact = createRedactor({ key });
const byID = (id: string) => {
  const e = SECRET_EVENTS.find((x) => x.auditID === id);
  if (!e) throw new Error(id);
  return e;
};

function leaks(text: string): string[] {
  return SECRET_VALUES.filter((v) => text.includes(v) || text.includes(b64(v)));
}

const LAST = '["kubectl.kubernetes.io/last-applied-configuration"]';

describe("built-in redaction", () => {
  it("leaves no secret value, raw or base64, in any recorded Secret event", () => {
    expect(leaks(JSON.stringify(SECRET_EVENTS)).length).toBeGreaterThan(0); // the fixtures do hold them
    for (const e of SECRET_EVENTS) expect(leaks(JSON.stringify(redact(e).event)), e.auditID).toEqual([]);
  });

  it.each([
    ["create-1", ["requestObject.stringData.password", "responseObject.data.password"]],
    [
      "update-1",
      [
        `requestObject.data.token`,
        `requestObject.metadata.annotations${LAST}`,
        `responseObject.data.token`,
        `responseObject.metadata.annotations${LAST}`,
      ],
    ],
    ["patch-merge", ["requestObject.data.token", "responseObject.data.token"]],
    [
      "patch-strategic",
      [
        "requestObject.stringData.token",
        `requestObject.metadata.annotations${LAST}`,
        "responseObject.data.token",
      ],
    ],
    [
      "patch-json",
      [
        "requestObject[1].value",
        "requestObject[2].value.extra",
        "responseObject.data.token",
        "responseObject.data.extra",
      ],
    ],
    [
      "list-1",
      [
        "responseObject.items[0].data.password",
        "responseObject.items[1].data.token",
        "responseObject.items[2].data.token-id",
        "responseObject.items[2].data.token-secret",
      ],
    ],
    ["get-table", [`responseObject.rows[0].object.metadata.annotations${LAST}`]],
    ["get-1", ["responseObject.data.password"]],
    ["token-1", ["responseObject.status.token"]],
  ])("%s masks exactly %j", (id, paths) => {
    expect(redact(byID(id)).paths).toEqual(paths);
  });

  it("replaces values by tags that confirm the plaintext, and keeps everything else", () => {
    const e = byID("get-1");
    const out = redact(e).event.responseObject as {
      data: Record<string, string>;
      metadata: unknown;
      type: string;
    };
    expect(tagMatches(key, Buffer.from("hunter2-db-password"), out.data.password!)).toBe(true);
    expect(out.metadata).toEqual((e.responseObject as { metadata: unknown }).metadata);
    expect(out.type).toBe("Opaque");
  });

  it("keeps merge-patch deletions (null) and strategic-merge directives", () => {
    const merge = redact(byID("patch-merge")).event.requestObject as { data: Record<string, unknown> };
    expect(merge.data.old).toBeNull();
    const smp = redact(byID("patch-strategic")).event.requestObject as {
      stringData: Record<string, unknown>;
    };
    expect(smp.stringData.$patch).toBe("replace");
  });

  it("keeps JSON patch ops that carry no secret untouched", () => {
    const ops = redact(byID("patch-json")).event.requestObject as {
      op: string;
      path: string;
      value?: unknown;
    }[];
    expect(ops[0]).toEqual({ op: "test", path: "/metadata/name", value: "api" });
    expect(ops[3]).toEqual({ op: "remove", path: "/data/old" });
  });

  it("does not modify its input and returns the same event when nothing is secret", () => {
    const before = JSON.stringify(SECRET_EVENTS);
    for (const e of SECRET_EVENTS) redact(e);
    expect(JSON.stringify(SECRET_EVENTS)).toBe(before);
    const cm: AuditEvent = {
      ...byID("get-1"),
      objectRef: { resource: "configmaps", namespace: "prod", name: "x" },
      responseObject: { kind: "ConfigMap", data: { a: "b" } },
    };
    expect(redact(cm).event).toBe(cm);
  });

  it.each([
    [
      "a whole Secret replaced at the root",
      [{ op: "replace", path: "", value: { data: { a: b64("root-secret") } } }],
      "requestObject[0].value.data.a",
    ],
    [
      "a whole data map",
      [{ op: "add", path: "/data", value: { a: b64("root-secret") } }],
      "requestObject[0].value.a",
    ],
    [
      "the last-applied annotation",
      [
        {
          op: "add",
          path: "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
          value: "root-secret",
        },
      ],
      "requestObject[0].value",
    ],
    [
      "an unreadable op path",
      [{ op: "add", path: "data/a", value: "root-secret" }],
      "requestObject[0].value",
    ],
    ["a data field given as a scalar", { data: "root-secret" }, "requestObject.data"],
    ["a raw (YAML) patch body", "stringData:\n  a: root-secret\n", "requestObject"],
    ["a field name in another case", { Data: { a: b64("root-secret") } }, "requestObject.Data.a"],
    [
      "a JSON patch path in another case",
      [{ op: "add", path: "/StringData/a", value: "root-secret" }],
      "requestObject[0].value",
    ],
  ])("masks %s", (_name, body, path) => {
    const e: AuditEvent = { ...byID("patch-json"), requestObject: body, responseObject: undefined };
    const r = redact(e);
    expect(r.paths).toEqual([path]);
    expect(JSON.stringify(r.event)).not.toContain("root-secret");
    expect(JSON.stringify(r.event)).not.toContain(b64("root-secret"));
  });

  it("recognises Secrets by kind inside a List of another resource", () => {
    const e: AuditEvent = {
      ...byID("get-1"),
      objectRef: { resource: "configmaps", namespace: "prod" },
      responseObject: {
        kind: "List",
        items: [
          { kind: "Secret", data: { k: b64("in-a-list") } },
          { kind: "ConfigMap", data: { k: "v" } },
        ],
      },
    };
    const r = redact(e);
    expect(r.paths).toEqual(["responseObject.items[0].data.k"]);
    expect((r.event.responseObject as { items: { data: { k: string } }[] }).items[1]!.data.k).toBe("v");
  });

  it("masks TokenReview tokens", () => {
    const e: AuditEvent = {
      ...byID("get-1"),
      verb: "create",
      objectRef: { resource: "tokenreviews", apiGroup: "authentication.k8s.io" },
      requestObject: { spec: { token: "bearer-xyz" } },
      responseObject: { kind: "TokenReview", spec: { token: "bearer-xyz" }, status: { authenticated: true } },
    };
    expect(redact(e).paths).toEqual(["requestObject.spec.token", "responseObject.spec.token"]);
  });
});

describe("extra rules", () => {
  const withRules = createRedactor({
    key,
    extraRules: [
      { resource: "configmaps", paths: ["data.password"] },
      { resource: "deployments", group: "apps", paths: ["spec.template.spec.containers[*].env[*].value"] },
    ],
  });

  it("mask configured paths of the configured resource, in objects and list items", () => {
    const e: AuditEvent = {
      ...byID("get-1"),
      objectRef: { resource: "configmaps", namespace: "prod" },
      responseObject: { kind: "ConfigMapList", items: [{ data: { password: "cm-pass", user: "bob" } }] },
    };
    const r = withRules(e);
    expect(r.paths).toEqual(["responseObject.items[0].data.password"]);
    const item = (r.event.responseObject as { items: { data: Record<string, string> }[] }).items[0]!;
    expect(item.data).toEqual({ password: tagValue(key, "cm-pass", "text"), user: "bob" });
  });

  it("follow wildcards through lists, and only for the rule's group", () => {
    const dep = {
      spec: { template: { spec: { containers: [{ env: [{ name: "A", value: "env-secret" }] }] } } },
    };
    const e: AuditEvent = {
      ...byID("get-1"),
      objectRef: { resource: "deployments", apiGroup: "apps" },
      responseObject: dep,
    };
    expect(withRules(e).paths).toEqual(["responseObject.spec.template.spec.containers[0].env[0].value"]);
    expect(withRules({ ...e, objectRef: { resource: "deployments", apiGroup: "extensions" } }).paths).toEqual(
      [],
    );
  });

  it("mask a value selected by several rules once, with the built-in tag", () => {
    const overlapping = createRedactor({
      key,
      extraRules: [
        { resource: "secrets", paths: ["data.*", "data.password"] },
        { resource: "configmaps", paths: ["data.*"] },
      ],
    });
    const get = byID("get-1");
    const r = overlapping(get);
    expect(r.paths).toEqual(["responseObject.data.password"]);
    expect(r.event).toEqual(redact(get).event);
    const list: AuditEvent = {
      ...get,
      objectRef: { resource: "configmaps", namespace: "prod" },
      responseObject: { kind: "List", items: [{ kind: "Secret", data: { k: b64("v") } }] },
    };
    const masked = overlapping(list);
    expect(masked.paths).toEqual(["responseObject.items[0].data.k"]);
    const item = (masked.event.responseObject as { items: { data: { k: string } }[] }).items[0]!;
    expect(item.data.k).toBe(tagValue(key, "v", "text"));
  });

  it("are checked when the redactor is built", () => {
    expect(() => createRedactor({ key, extraRules: [{ resource: "x", paths: ["a..b"] }] })).toThrow(
      RedactionRuleError,
    );
    expect(() => createRedactor({ key, extraRules: [{ resource: "", paths: ["a"] }] })).toThrow(
      /\[0\]\.resource/,
    );
  });
});
