import { describe, expect, it } from "vitest";
import { classify, expired, keepOf, parseKeep, parseRetentionPolicy, parseTimeUs } from "./policy.js";

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
    const c = (fields: Record<string, unknown>) => keepOf(POLICY, classify(event(fields)));
    expect(c({ verb: "get", objectRef: { resource: "secrets", namespace: "a" } })).toBe(7 * 365 * DAY_US);
    expect(c({ verb: "list", objectRef: { resource: "pods" } })).toBe(30 * DAY_US);
    expect(c({ verb: "delete", objectRef: { resource: "pods" } })).toBe(400 * DAY_US);
    expect(
      c({ verb: "patch", objectRef: { resource: "deployments", apiGroup: "apps", namespace: "dev" } }),
    ).toBe(14 * DAY_US);
    expect(
      c({ verb: "patch", objectRef: { resource: "deployments", apiGroup: "apps", namespace: "prod" } }),
    ).toBe(400 * DAY_US);
    expect(
      keepOf(
        POLICY,
        classify(
          Buffer.from('{"apiVersion":"kubetrail.dev/v1","kind":"Alert","time":"2026-01-01T00:00:00Z"}'),
        ),
      ),
    ).toBeNull();
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
