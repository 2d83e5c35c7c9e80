import fc from "fast-check";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { at, auditEvent, encode } from "../../test/detect-helpers.js";
import { builtinRules } from "./builtin/index.js";
import { RuleEngine } from "./engine.js";
import { loadRules } from "./load-rules.js";
import { parseRulesConfig } from "./rules-config.js";
import { testSeed } from "../../test/fixtures/seed.js";

const exec = (overrides = {}) =>
  auditEvent({
    verb: "create",
    objectRef: { resource: "pods", subresource: "exec", namespace: "shop", name: "api-7" },
    stageTimestamp: "2026-11-21T05:58:25.101234Z",
    ...overrides,
  });

describe("RuleEngine", () => {
  it("builds an alert with rule, severity, user, object, microsecond time, auditID and index", () => {
    const engine = new RuleEngine(builtinRules());
    const e = exec();
    const [alert, ...rest] = engine.evaluateEntry(42, encode(e));
    expect(rest).toEqual([]);
    expect(alert).toMatchObject({
      apiVersion: "kubetrail.dev/v1",
      kind: "Alert",
      rule: "pod-exec",
      severity: "medium",
      user: "alice@example.com",
      object: { resource: "pods", subresource: "exec", namespace: "shop", name: "api-7" },
      time: "2026-11-21T05:58:25.101234Z",
      auditIDs: [e.auditID],
      indexes: [42],
      source: "builtin",
    });
  });

  it("ignores kubetrail's own records, so alerts never trigger alerts", () => {
    const engine = new RuleEngine(builtinRules());
    const [alert] = engine.evaluateEntry(0, encode(exec()));
    expect(engine.evaluateEntry(1, encode(alert))).toEqual([]);
    expect(engine.stats.ownRecords).toBe(1);
  });

  it("counts unreadable entries without throwing", () => {
    const engine = new RuleEngine(builtinRules());
    expect(engine.evaluateEntry(0, new TextEncoder().encode("{not json"))).toEqual([]);
    expect(engine.evaluateEntry(1, encode({ hello: "world" }))).toEqual([]);
    expect(engine.stats.unreadable).toBe(2);
  });

  it("alerts once per request across stages and not at RequestReceived", () => {
    const engine = new RuleEngine(builtinRules());
    const received = exec({ stage: "RequestReceived", responseStatus: undefined });
    const started = { ...received, stage: "ResponseStarted", responseStatus: { code: 101 } };
    const complete = { ...received, stage: "ResponseComplete", responseStatus: { code: 101 } };
    expect(engine.evaluateObject(0, received)).toEqual([]);
    expect(engine.evaluateObject(1, started).map((a) => a.rule)).toEqual(["pod-exec"]);
    expect(engine.evaluateObject(2, complete)).toEqual([]);
  });

  it("a windowed rule fires once per burst with every triggering index, by event time", () => {
    const engine = new RuleEngine(builtinRules());
    const denied = (i: number) => auditEvent({ responseStatus: { code: 403 }, stageTimestamp: at(i) });
    const alerts = Array.from({ length: 45 }, (_, i) => engine.evaluateObject(100 + i, denied(i))).flat();
    expect(alerts.map((a) => a.rule)).toEqual(["forbidden-burst", "forbidden-burst"]);
    expect(alerts[0]?.indexes).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(alerts[0]?.auditIDs).toHaveLength(20);
    expect(alerts[0]?.time).toBe(at(19));
    expect(alerts[0]?.description).toMatch(/20 events by user.username "alice@example.com" within 1m/);
  });

  it("applies per-rule allow-lists, thresholds and windows from the config", async () => {
    const config = parseRulesConfig(
      [
        "allow:",
        "  users: ['system:serviceaccount:argocd:*']",
        "rules:",
        "  pod-exec:",
        "    allow:",
        "      namespaces: [sandbox]",
        "      groups: [oncall]",
        "  forbidden-burst:",
        "    threshold: 3",
        "    window: 10s",
        "  namespace-deleted:",
        "    disabled: true",
      ].join("\n"),
      "cfg.yml",
    );
    const rules = await loadRules({ builtins: true, dirs: [], config });
    expect(rules.map((r) => r.id)).not.toContain("namespace-deleted");
    const engine = new RuleEngine(rules);
    const rulesOf = (e: object) => engine.evaluateObject(0, e).map((a) => a.rule);
    expect(rulesOf(exec())).toEqual(["pod-exec"]);
    expect(
      rulesOf(exec({ objectRef: { resource: "pods", subresource: "exec", namespace: "sandbox" } })),
    ).toEqual([]);
    expect(rulesOf(exec({ user: { username: "bob", groups: ["oncall"] } }))).toEqual([]);
    expect(rulesOf(exec({ user: { username: "system:serviceaccount:argocd:app" } }))).toEqual([]);
    const denied = (s: number) => auditEvent({ responseStatus: { code: 403 }, stageTimestamp: at(s) });
    expect([0, 11, 22].flatMap((s) => rulesOf(denied(s)))).toEqual([]);
    expect([30, 31, 32].flatMap((s) => rulesOf(denied(s)))).toEqual(["forbidden-burst"]);
  });

  it("skipping rules by resource and verb never changes the alerts", async () => {
    const rules = await loadRules({
      builtins: true,
      dirs: [join(import.meta.dirname, "../../test/fixtures/sigma/good")],
    });
    expect(rules.filter((r) => r.resources).length).toBeGreaterThan(8);
    expect(rules.filter((r) => r.verbs && r.source !== "builtin").length).toBeGreaterThan(0);
    const unfiltered = rules.map((r) => ({ ...r, resources: undefined, verbs: undefined }));
    const pick = <T>(...values: T[]) => fc.constantFrom(...values);
    const event = fc.record({
      verb: pick("get", "list", "watch", "create", "Create", "update", "patch", "delete", "deletecollection"),
      resource: pick(
        "pods",
        "Pods",
        "secrets",
        "configmaps",
        "namespaces",
        "clusterrolebindings",
        "nodes",
        undefined,
      ),
      subresource: pick(undefined, "exec", "proxy", "token"),
      namespace: pick(undefined, "kube-system", "prod-eu", "shop"),
      user: pick("alice", "system:anonymous", "system:serviceaccount:shop:api"),
      code: pick(200, 403),
      roleRef: pick(undefined, "cluster-admin"),
      second: fc.integer({ min: 0, max: 120 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (specs) => {
        const a = new RuleEngine(rules);
        const b = new RuleEngine(unfiltered);
        specs.forEach((s, i) => {
          const e = auditEvent({
            verb: s.verb,
            objectRef: {
              resource: s.resource,
              subresource: s.subresource,
              namespace: s.namespace,
              name: "x",
            },
            user: { username: s.user, groups: ["system:masters", "system:authenticated"] },
            responseStatus: { code: s.code },
            requestObject: s.roleRef && { roleRef: { kind: "ClusterRole", name: s.roleRef } },
            stageTimestamp: at(s.second),
          });
          expect(a.evaluateObject(i, e)).toEqual(b.evaluateObject(i, e));
        });
      }),
      { numRuns: 200, seed: testSeed(20_261_106) },
    );
  });
});
