import { describe, expect, it } from "vitest";
import type { AuditEvent, Stage } from "../types.js";
import { ComparisonTally, describeRule, PolicyImpact, type EventImpact } from "./impact.js";
import { makePolicy, makeRule } from "../../../test/fixtures/policy/policy-builders.js";

function ev(
  id: string,
  stage: Stage,
  verb: string,
  resource: string | undefined,
  second: number,
): AuditEvent {
  const t = `2026-11-21T00:00:${String(second).padStart(2, "0")}.000000Z`;
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: id,
    stage,
    requestURI: resource ? `/api/v1/namespaces/a/${resource}` : "/healthz",
    verb,
    user: { username: "u", groups: ["g"] },
    ...(resource ? { objectRef: { resource, namespace: "a" } } : {}),
    requestObject: { spec: "x".repeat(100) },
    responseObject: { spec: "y".repeat(1000) },
    requestReceivedTimestamp: t,
    stageTimestamp: t,
  };
}

const events = [
  ev("1", "RequestReceived", "get", "pods", 0),
  ev("1", "ResponseComplete", "get", "pods", 0),
  ev("2", "ResponseComplete", "get", undefined, 5),
  ev("3", "ResponseComplete", "create", "configmaps", 10),
];

const policy = makePolicy(
  [
    makeRule({ level: "None", nonResourceURLs: ["/healthz*"] }),
    makeRule({ level: "Metadata", resources: [{ group: "", resources: ["pods"], resourceNames: [] }] }),
    makeRule({ level: "RequestResponse" }),
  ],
  { omitStages: ["RequestReceived"] },
);

describe("PolicyImpact", () => {
  const impact = new PolicyImpact(policy);
  const impacts: EventImpact[] = events.map((e) => impact.add(e));
  const s = impact.summary();

  it("decides every event and says why it is dropped", () => {
    expect(impacts.map((i) => [i.decision.rule, i.decision.level, i.dropped])).toEqual([
      [1, "Metadata", "omitted-stage"],
      [1, "Metadata", null],
      [0, "None", "level-none"],
      [2, "RequestResponse", null],
    ]);
  });

  it("adds up events and bytes per level, per rule and in total", () => {
    const sizes = events.map((e) => Buffer.byteLength(JSON.stringify(e)) + 1);
    expect(s.inputBytes).toBe(sizes.reduce((a, b) => a + b));
    expect(s.storedEvents).toBe(2);
    expect(s.byLevel.None).toEqual({ events: 1, inputBytes: sizes[2], storedBytes: 0 });
    expect(s.dropped["omitted-stage"].events).toBe(1);
    expect(s.byRule.map((r) => [r.rule, r.events, r.dropped])).toEqual([
      [0, 1, 1],
      [1, 2, 1],
      [2, 1, 0],
    ]);
    // The Metadata event lost its bodies; the RequestResponse one kept them (plus annotations).
    expect(impacts[1]!.storedBytes).toBeLessThan(sizes[1]! - 1000);
    expect(impacts[3]!.storedBytes).toBeGreaterThan(sizes[3]!);
  });

  it("projects a day at the input's rate (10 s of input → ×8640)", () => {
    expect(s.spanSeconds).toBe(10);
    expect(s.perDay).toEqual({
      inputBytes: s.inputBytes * 8640,
      storedBytes: s.storedBytes * 8640,
      storedEvents: 2 * 8640,
    });
  });

  it("compares two policies event by event", () => {
    const all = new PolicyImpact(makePolicy([makeRule({ level: "Request" })]));
    const tally = new ComparisonTally();
    events.forEach((e, i) => tally.add(impacts[i]!, all.add(e)));
    const c = tally.result(s, all.summary());
    expect(c.storedEvents).toEqual([2, 4]);
    expect(c.changes).toEqual([
      { from: "dropped", to: "Request", events: 2 },
      { from: "Metadata", to: "Request", events: 1 },
      { from: "RequestResponse", to: "Request", events: 1 },
    ]);
  });

  it("describes rules for the summary", () => {
    expect(describeRule(policy.rules[1]!)).toBe("resources=pods");
    expect(describeRule(policy.rules[2]!)).toBe("(everything)");
    expect(
      describeRule(
        makeRule({
          level: "None",
          users: ["a"],
          resources: [{ group: "apps", resources: [], resourceNames: [] }],
        }),
      ),
    ).toBe("users=a resources=apps/*");
  });
});
