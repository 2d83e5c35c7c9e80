import { describe, expect, it } from "vitest";
import {
  classify,
  expired,
  keepOf,
  keptBecause,
  parseKeep,
  parseRetentionPolicy,
  parseTimeUs,
} from "./policy.js";

const DAY_US = 86_400e6;
const POLICY = parseRetentionPolicy(
  `apiVersion: kubetrail.dev/v1
kind: RetentionPolicy
metadata: { name: compliance }
keep: 400d
records: forever
rules:
  - { resources: [secrets], keep: 7y }
  - { resources: [pods], verbs: [get, list, watch], keep: 30d }
  - { resources: [apps/deployments], namespaces: [dev], keep: 2w }
`,
  "policy.yaml",
);

const event = (fields: Record<string, unknown>) =>
  Buffer.from(
    JSON.stringify({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      stageTimestamp: "2026-01-01T00:00:00.123456Z",
      ...fields,
    }),
  );

describe("retention policy", () => {
  it("keeps each class of entry as long as its first matching rule says", () => {
    const c = (fields: Record<string, unknown>) => keepOf(POLICY, classify(event(fields))).keep;
    expect(c({ verb: "get", objectRef: { resource: "secrets", namespace: "a" } })).toBe(7 * 365 * DAY_US);
    expect(c({ verb: "list", objectRef: { resource: "pods" } })).toBe(30 * DAY_US);
    expect(c({ verb: "delete", objectRef: { resource: "pods" } })).toBe(400 * DAY_US);
    expect(
      c({ verb: "patch", objectRef: { resource: "deployments", apiGroup: "apps", namespace: "dev" } }),
    ).toBe(14 * DAY_US);
    expect(
      c({ verb: "patch", objectRef: { resource: "deployments", apiGroup: "apps", namespace: "prod" } }),
    ).toBe(400 * DAY_US);
    const record = (kind: string) =>
      classify(
        Buffer.from(`{"apiVersion":"kubetrail.dev/v1","kind":"${kind}","time":"2026-01-01T00:00:00Z"}`),
      );
    expect(keepOf(POLICY, record("Alert")).keep).toBeNull();
  });

  it("never keeps a retention record: the newest one covers what older ones pruned", () => {
    // With `records: forever` a run's own record would otherwise stop every later run at it.
    const r = classify(
      Buffer.from('{"apiVersion":"kubetrail.dev/v1","kind":"RetentionRecord","time":"2026-01-01T00:00:00Z"}'),
    );
    expect(expired(POLICY, r, parseTimeUs("2026-01-01T00:00:00Z")!)).toBe(true);
    const alert = classify(
      Buffer.from('{"apiVersion":"kubetrail.dev/v1","kind":"Alert","time":"2026-01-01T00:00:00Z"}'),
    );
    expect(expired(POLICY, alert, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it("says why an entry is still kept: its class, the part of the policy, and until when", () => {
    const why = (doc: Buffer) => keptBecause(POLICY, classify(doc));
    expect(why(event({ verb: "get", objectRef: { resource: "secrets", namespace: "a" } }))).toBe(
      "get secrets in a, kept by rule 1 until 2032-12-30T00:00:00.123Z",
    );
    expect(why(event({ verb: "delete", objectRef: { resource: "pods" } }))).toBe(
      "delete pods, kept by keep until 2027-02-05T00:00:00.123Z",
    );
    expect(
      why(Buffer.from('{"apiVersion":"kubetrail.dev/v1","kind":"Alert","time":"2026-01-01T00:00:00Z"}')),
    ).toBe("an Alert, kept forever by records");
    expect(why(Buffer.from('{"kind":"Event","verb":"get"}'))).toBe("get, undated: never expired");
  });

  it("expires an entry only once its keep period has passed, and never one without a date", () => {
    const pod = classify(event({ verb: "get", objectRef: { resource: "pods" } }));
    const t = parseTimeUs("2026-01-01T00:00:00.123456Z")!;
    expect(pod.timeUs).toBe(t);
    expect(expired(POLICY, pod, t + 30 * DAY_US - 1)).toBe(false);
    expect(expired(POLICY, pod, t + 30 * DAY_US)).toBe(true);
    const undated = classify(Buffer.from('{"kind":"Event","verb":"get"}'));
    expect(expired(POLICY, undated, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it("says what is wrong with a policy, and where", () => {
    const bad = (text: string) => () => parseRetentionPolicy(text, "p.yaml");
    const head = "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\n";
    expect(bad(`${head}keep: 30 days\n`)).toThrow(/p.yaml: keep: "30 days" is not a duration/);
    expect(bad(`${head}keep: 30d\nrules:\n  - { resources: [pods], keep: soon }\n`)).toThrow(
      /p.yaml: rules\[0\]\.keep: "soon" is not a duration/,
    );
    expect(bad(`${head}keep: 30d\nrules:\n  - { resource: [pods], keep: 1d }\n`)).toThrow(
      /rules\[0\]: unknown field resource/,
    );
    expect(bad("kind: Policy\nkeep: 1d\n")).toThrow(/kind RetentionPolicy expected/);
    expect(parseKeep("forever", "x")).toBeNull();
    expect(parseKeep("36h", "x")).toBe(36 * 3600e6);
  });
});
