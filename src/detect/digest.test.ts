// The digest a receive worker sends with each event's bytes lets the detector skip parsing
// events no rule can match: skipping must never change an alert.
import fc from "fast-check";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../../bench/gen/events.js";
import { at, auditEvent, encode } from "../../test/detect-helpers.js";
import { digestEvent } from "../audit/event-digest.js";
import type { AuditEvent } from "../audit/types.js";
import { RuleEngine } from "./engine.js";
import { loadRules } from "./load-rules.js";
import type { Alert, Rule } from "./types.js";

const SIGMA = join(import.meta.dirname, "../../bench/fixtures/sigma");

const key = (a: Alert) => `${a.rule} ${a.auditIDs.join(",")}`;

/** Alerts from parsed events, and from bytes with digests, through two fresh engines. */
function both(rules: () => Promise<Rule[]>, events: AuditEvent[]) {
  return Promise.all([rules(), rules()]).then(([a, b]) => {
    const parsed = new RuleEngine(a);
    const digested = new RuleEngine(b);
    let skipped = 0;
    const fromParsed = events.flatMap((e, i) => parsed.evaluateObject(i, e).map(key));
    const fromDigests = events.flatMap((e, i) => {
      const digest = digestEvent(e);
      if (!digested.mayMatch(digest)) skipped++;
      return digested.evaluate({ index: i, data: encode(e), digest }).map(key);
    });
    return { fromParsed, fromDigests, skipped, stats: [parsed.stats, digested.stats] };
  });
}

const allRules = () => loadRules({ builtins: true, dirs: [SIGMA] });

describe("detection from digests", () => {
  it("gives the same alerts as parsing every event, on generated traffic, and skips most reads", async () => {
    const seed = 4242;
    console.log(`digest test: generated events, seed ${seed}`);
    const events = [...generateEvents({ seed, count: 20_000 })];
    const r = await both(allRules, events);
    expect(r.fromParsed.length).toBeGreaterThan(50);
    expect(r.fromDigests).toEqual(r.fromParsed);
    const counts = (s: { events: number; alerts: number; unreadable: number }) => [
      s.events,
      s.alerts,
      s.unreadable,
    ];
    expect(counts(r.stats[1]!)).toEqual(counts(r.stats[0]!));
    expect(r.skipped / events.length).toBeGreaterThan(0.5);
  });

  it("gives the same alerts on every built-in rule's own triggers", async () => {
    const admin = { username: "alice@example.com", groups: ["system:authenticated"] };
    const events = [
      auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name: "payments" } }),
      auditEvent({
        verb: "create",
        objectRef: { resource: "pods", subresource: "exec", name: "w" },
        responseStatus: { code: 400 },
      }),
      auditEvent({
        verb: "patch",
        objectRef: { resource: "pods", subresource: "ephemeralcontainers", name: "w" },
      }),
      auditEvent({ verb: "update", objectRef: { resource: "configmaps", namespace: "kube-system" } }),
      auditEvent({
        verb: "create",
        objectRef: { resource: "clusterroles", name: "god" },
        requestObject: { metadata: { name: "god" }, rules: [{ resources: ["*"], verbs: ["get"] }] },
      }),
      auditEvent({
        verb: "create",
        objectRef: { resource: "clusterrolebindings", name: "b" },
        requestObject: { roleRef: { kind: "ClusterRole", name: "god" } },
      }),
      auditEvent({
        verb: "list",
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        requestURI: "/api/v1/secrets",
        objectRef: { resource: "secrets" },
      }),
      auditEvent({ user: admin, impersonatedUser: { username: "system:admin" } }),
      auditEvent({
        verb: "create",
        objectRef: { resource: "serviceaccounts", subresource: "token", name: "ci" },
      }),
      ...Array.from({ length: 20 }, (_, i) =>
        auditEvent({ responseStatus: { code: 403 }, stageTimestamp: at(i) }),
      ),
    ];
    const r = await both(allRules, events);
    expect(new Set(r.fromParsed.map((k) => k.split(" ")[0]))).toEqual(
      new Set([
        "namespace-deleted",
        "pod-exec",
        "ephemeral-container",
        "kube-system-change",
        "wildcard-role",
        "privileged-binding",
        "anonymous-allowed",
        "secrets-cross-namespace",
        "impersonation",
        "token-by-human",
        "forbidden-burst",
      ]),
    );
    expect(r.fromDigests).toEqual(r.fromParsed);
  });

  it("rules that do not declare readsBodies decide the same without the bodies", async () => {
    const rules = await allRules();
    const seed = 4343;
    console.log(`digest bodies test: generated events, seed ${seed}`);
    const events = [...generateEvents({ seed, count: 5000 })].filter(
      (e) => e.requestObject !== undefined || e.responseObject !== undefined,
    );
    expect(events.length).toBeGreaterThan(500);
    const state = { wildcardRoles: new Set<string>() };
    for (const e of events) {
      const light = JSON.parse(digestEvent(e).withoutBodies!) as AuditEvent;
      expect(light.requestObject).toBeUndefined();
      for (const rule of rules.filter((r) => !r.readsBodies)) {
        expect(rule.match(light, state), `${rule.id} on ${e.auditID}`).toBe(rule.match(e, state));
      }
    }
  });

  it("never skips an event a rule matches (random events)", async () => {
    const rules = await allRules();
    const engine = new RuleEngine(rules);
    const seed = 77;
    console.log(`digest property: fast-check seed ${seed}`);
    const event = fc.record({
      verb: fc.constantFrom(
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
      ),
      resource: fc.option(
        fc.constantFrom(
          "pods",
          "secrets",
          "namespaces",
          "clusterroles",
          "rolebindings",
          "configmaps",
          "serviceaccounts",
          "deployments",
        ),
        { nil: undefined },
      ),
      subresource: fc.option(
        fc.constantFrom("exec", "attach", "portforward", "log", "status", "token", "ephemeralcontainers"),
        { nil: undefined },
      ),
      namespace: fc.option(fc.constantFrom("default", "kube-system", "shop"), { nil: undefined }),
      code: fc.option(fc.constantFrom(101, 200, 201, 400, 401, 403, 404, 500), { nil: undefined }),
      username: fc.constantFrom(
        "alice",
        "system:anonymous",
        "system:serviceaccount:shop:api",
        "system:node:n1",
      ),
      impersonated: fc.boolean(),
      annotations: fc.option(
        fc.constantFrom(
          { "authorization.k8s.io/decision": "allow" },
          { "authorization.k8s.io/decision": "forbid" },
        ),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(event, (f) => {
        const e = auditEvent({
          verb: f.verb,
          user: {
            username: f.username,
            groups: f.username === "system:anonymous" ? ["system:unauthenticated"] : [],
          },
          objectRef:
            f.resource === undefined
              ? undefined
              : { resource: f.resource, subresource: f.subresource, namespace: f.namespace, name: "x" },
          responseStatus: f.code === undefined ? undefined : { code: f.code },
          ...(f.impersonated && { impersonatedUser: { username: "bob" } }),
          ...(f.annotations && { annotations: f.annotations }),
          requestObject: { roleRef: { kind: "ClusterRole", name: "cluster-admin" }, spec: { hostPID: true } },
        });
        const d = digestEvent(e);
        for (const rule of rules) {
          if (rule.match(e, { wildcardRoles: new Set() }) && !rule.window) {
            expect(engine.mayMatch(d), `${rule.id} matches but the digest was skipped`).toBe(true);
            if (rule.needs) expect(rule.needs(d), rule.id).toBe(true);
          }
        }
      }),
      { seed, numRuns: 2000 },
    );
  });
});
