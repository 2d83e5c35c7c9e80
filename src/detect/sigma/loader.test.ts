import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { auditEvent } from "../../../test/detect-helpers.js";
import { DetectError, type Rule } from "../types.js";
import { parseSigmaRule } from "./loader.js";

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/sigma");
const state = { wildcardRoles: new Set<string>() };

async function fixture(name: string): Promise<Rule> {
  const file = join(FIXTURES, name);
  return parseSigmaRule(await readFile(file, "utf8"), file);
}

function rule(detection: string, extra = ""): Rule {
  const text = `title: T\nid: t1\n${extra}logsource:\n  product: kubernetes\n  service: audit\ndetection:\n${detection}\nlevel: high\n`;
  return parseSigmaRule(text, "inline.yml");
}

function rejection(text: string): string {
  try {
    parseSigmaRule(text, "inline.yml");
  } catch (err) {
    expect(err).toBeInstanceOf(DetectError);
    return (err as Error).message;
  }
  throw new Error("rule was accepted");
}

describe("Sigma loader", () => {
  it("reads metadata: id, title, level as severity, source file", async () => {
    const r = await fixture("good/configmap_deleted_in_prod.yml");
    expect(r.id).toBe("6f1c2b0e-4a57-4c1e-9a0b-1d2e3f405001");
    expect(r.title).toBe("ConfigMap Removed From A Production Namespace");
    expect(r.severity).toBe("medium");
    expect(r.source).toMatch(/configmap_deleted_in_prod\.yml$/);
  });

  it("ANDs a map, ORs value lists, applies startswith and `and not`", async () => {
    const r = await fixture("good/configmap_deleted_in_prod.yml");
    const base = { objectRef: { resource: "configmaps", namespace: "PROD-eu", name: "c" } };
    expect(r.match(auditEvent({ ...base, verb: "delete" }), state)).toBe(true);
    expect(r.match(auditEvent({ ...base, verb: "deletecollection" }), state)).toBe(true);
    expect(r.match(auditEvent({ ...base, verb: "get" }), state)).toBe(false);
    expect(
      r.match(
        auditEvent({ ...base, verb: "delete", objectRef: { resource: "configmaps", namespace: "dev" } }),
        state,
      ),
    ).toBe(false);
    expect(
      r.match(
        auditEvent({ ...base, verb: "delete", user: { username: "system:serviceaccount:x:y" } }),
        state,
      ),
    ).toBe(false);
  });

  it("supports contains lists, re, lt, `1 of` with wildcards and precedence of and over or", async () => {
    const r = await fixture("good/shell_tools_in_request.yml");
    const exec = "/api/v1/namespaces/a/pods/p/exec?command=%2fbin%2fsh&stdin=true";
    expect(r.match(auditEvent({ requestURI: exec }), state)).toBe(true);
    expect(r.match(auditEvent({ requestURI: exec, responseStatus: { code: 403 } }), state)).toBe(false);
    expect(r.match(auditEvent({ userAgent: "trufflehog/3.1" }), state)).toBe(true);
    // re is case-sensitive unless |i is given
    expect(r.match(auditEvent({ userAgent: "TruffleHog/3.1" }), state)).toBe(false);
    expect(r.match(auditEvent({ userAgent: "trufflehog/3.1", responseStatus: { code: 500 } }), state)).toBe(
      false,
    );
  });

  it("supports cidr against the sourceIPs list", async () => {
    const r = await fixture("good/node_proxy_from_outside.yml");
    const proxy = { objectRef: { resource: "nodes", subresource: "proxy", name: "n1" } };
    expect(r.match(auditEvent({ ...proxy, sourceIPs: ["203.0.113.9"] }), state)).toBe(true);
    expect(r.match(auditEvent({ ...proxy, sourceIPs: ["10.1.2.3"] }), state)).toBe(false);
  });

  it("supports all, exists, lists of maps and `all of them` skipping _ selections", async () => {
    const r = await fixture("good/system_masters_writes.yml");
    const masters = { username: "root", groups: ["system:masters", "system:authenticated"] };
    expect(r.match(auditEvent({ user: masters, verb: "patch" }), state)).toBe(true);
    expect(r.match(auditEvent({ user: masters, verb: "get" }), state)).toBe(false);
    expect(
      r.match(auditEvent({ user: { username: "x", groups: ["system:masters"] }, verb: "create" }), state),
    ).toBe(false);
    expect(
      r.match(auditEvent({ user: masters, verb: "create", impersonatedUser: { username: "bob" } }), state),
    ).toBe(false);
  });

  it("matches plain values case-insensitively with * and ? wildcards and escapes", () => {
    const r = rule("  s:\n    objectRef.name: 'web-?\\*'\n  condition: s");
    expect(r.match(auditEvent({ objectRef: { resource: "pods", name: "WEB-1*" } }), state)).toBe(true);
    expect(r.match(auditEvent({ objectRef: { resource: "pods", name: "web-12" } }), state)).toBe(false);
    const any = rule("  s:\n    objectRef.name: '*'\n  condition: s");
    expect(any.match(auditEvent({ objectRef: { resource: "nodes" } }), state)).toBe(false);
  });

  it("compares numbers with numbers and null with absence", () => {
    const r = rule("  s:\n    responseStatus.code:\n      - 401\n      - 403\n  condition: s");
    expect(r.match(auditEvent({ responseStatus: { code: 403 } }), state)).toBe(true);
    expect(r.match(auditEvent({ responseStatus: { code: 200 } }), state)).toBe(false);
    const absent = rule("  s:\n    objectRef.namespace: null\n  condition: s");
    expect(absent.match(auditEvent({ objectRef: { resource: "nodes" } }), state)).toBe(true);
    expect(absent.match(auditEvent(), state)).toBe(false);
  });

  it("reads keys that themselves contain dots (annotations)", () => {
    const r = rule("  s:\n    annotations.authorization.k8s.io/decision: forbid\n  condition: s");
    expect(r.match(auditEvent({ annotations: { "authorization.k8s.io/decision": "forbid" } }), state)).toBe(
      true,
    );
    expect(r.match(auditEvent({ annotations: { "authorization.k8s.io/decision": "allow" } }), state)).toBe(
      false,
    );
  });

  it("reads through lists: any element's value can match", () => {
    const r = rule("  s:\n    requestObject.spec.containers.image|startswith: 'busybox'\n  condition: s");
    const pod = (...images: string[]) =>
      auditEvent({
        requestObject: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
      });
    expect(r.match(pod("nginx:1.27", "busybox:1.36"), state)).toBe(true);
    expect(r.match(pod("nginx:1.27"), state)).toBe(false);
    expect(r.match(auditEvent({ requestObject: { spec: {} } }), state)).toBe(false);
  });

  it("handles not, parentheses and condition lists", () => {
    const r = rule(
      "  a:\n    verb: delete\n  b:\n    objectRef.resource: pods\n  c:\n    objectRef.namespace: kube-system\n  condition:\n    - a and not (b or c)\n    - c and b",
    );
    expect(
      r.match(auditEvent({ verb: "delete", objectRef: { resource: "services", namespace: "x" } }), state),
    ).toBe(true);
    expect(
      r.match(auditEvent({ verb: "delete", objectRef: { resource: "pods", namespace: "x" } }), state),
    ).toBe(false);
    expect(
      r.match(auditEvent({ verb: "get", objectRef: { resource: "pods", namespace: "kube-system" } }), state),
    ).toBe(true);
  });

  it.each([
    ["bad/aggregation.yml", /aggregations/],
    ["bad/unknown_modifier.yml", /unsupported modifier "base64offset"/],
    ["bad/wrong_logsource.yml", /logsource must be product: kubernetes, service: audit/],
    ["bad/near.yml", /near/],
    ["bad/keywords.yml", /keyword searches are not supported/],
    ["bad/unknown_selection.yml", /unknown selection "selecton"/],
  ])("rejects %s with file and reason", async (name, reason) => {
    const file = join(FIXTURES, name);
    const text = await readFile(file, "utf8");
    const message = rejection(text);
    expect(message).toMatch(reason);
    expect(() => parseSigmaRule(text, file)).toThrow(new RegExp(name.replace(/[/.]/g, "\\$&")));
  });

  it("rejects bad regexes, unknown keys, bad levels and collections", () => {
    const head = "title: T\nlogsource:\n  product: kubernetes\n  service: audit\n";
    expect(rejection(`${head}detection:\n  s:\n    verb|re: '(('\n  condition: s\n`)).toMatch(
      /bad regular expression/,
    );
    expect(rejection(`${head}detection:\n  s:\n    verb: x\n  condition: s\nlevel: urgent\n`)).toMatch(
      /level "urgent"/,
    );
    expect(rejection(`${head}detection:\n  s:\n    verb: x\n  condition: s\ncolour: red\n`)).toMatch(
      /"colour"/,
    );
    expect(rejection(`${head}detection:\n  s:\n    verb: x\n  condition: s\n---\ntitle: U\n`)).toMatch(
      /collections/,
    );
    expect(rejection(`${head}detection:\n  s:\n    verb: x\n  condition: 2 of s*\n`)).toMatch(/only "1 of"/);
    expect(rejection(`${head}detection:\n  s:\n    verb|all: x\n  condition: s\n`)).toMatch(
      /all needs a list/,
    );
  });
});
