import { describe, expect, it } from "vitest";
import { at, auditEvent } from "../../../test/detect-helpers.js";
import type { AuditEvent } from "../../audit/types.js";
import { RuleEngine } from "../engine.js";
import { SEVERITIES } from "../types.js";
import { loadRules } from "../load-rules.js";
import { parseRulesConfig } from "../rules-config.js";
import { builtinRules, DEFAULT_CONTROL_PLANE_USERS } from "./index.js";

/** Rule ids that fire when the events are fed, in order, through a fresh engine. */
function fired(events: AuditEvent[]): string[] {
  const engine = new RuleEngine(builtinRules());
  return events.flatMap((e, i) => engine.evaluateObject(i, e).map((a) => a.rule));
}

const admin = { username: "alice@example.com", groups: ["system:authenticated"] };
/** Ten reads of different secrets in one namespace, `gapSeconds` apart. */
const secretReads = (gapSeconds: number): AuditEvent[] =>
  Array.from({ length: 10 }, (_, i) =>
    auditEvent({
      verb: "get",
      objectRef: { resource: "secrets", namespace: "a", name: `s${i}` },
      stageTimestamp: at(i * gapSeconds),
    }),
  );
const privilegedSpec = { containers: [{ name: "c", image: "x", securityContext: { privileged: true } }] };

// One positive and one negative event (sequence) per built-in rule; the negative differs in
// the one detail that makes the action harmless.
const cases: Array<{ rule: string; positive: AuditEvent[]; negative: AuditEvent[] }> = [
  {
    rule: "namespace-deleted",
    positive: [auditEvent({ verb: "delete", objectRef: { resource: "namespaces", name: "payments" } })],
    negative: [
      auditEvent({
        verb: "delete",
        objectRef: { resource: "namespaces", name: "p" },
        responseStatus: { code: 403 },
      }),
    ],
  },
  {
    rule: "pod-exec",
    positive: [
      auditEvent({ verb: "create", objectRef: { resource: "pods", subresource: "exec", name: "web-0" } }),
    ],
    negative: [
      auditEvent({ verb: "get", objectRef: { resource: "pods", subresource: "log", name: "web-0" } }),
    ],
  },
  {
    rule: "ephemeral-container",
    positive: [
      auditEvent({
        verb: "patch",
        objectRef: { resource: "pods", subresource: "ephemeralcontainers", name: "w" },
      }),
    ],
    negative: [
      auditEvent({ verb: "get", objectRef: { resource: "pods", subresource: "ephemeralcontainers" } }),
    ],
  },
  {
    rule: "privileged-pod",
    positive: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "daemonsets", namespace: "default", apiGroup: "apps" },
        requestObject: { spec: { template: { spec: { hostPID: true, containers: [] } } } },
      }),
    ],
    negative: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "pods", namespace: "default" },
        requestObject: { spec: { containers: [{ name: "c", securityContext: { privileged: false } }] } },
      }),
    ],
  },
  {
    rule: "admission-webhook-changed",
    positive: [
      auditEvent({
        verb: "delete",
        objectRef: { resource: "validatingwebhookconfigurations", apiGroup: "admissionregistration.k8s.io" },
      }),
    ],
    negative: [auditEvent({ verb: "list", objectRef: { resource: "mutatingwebhookconfigurations" } })],
  },
  {
    rule: "kube-system-change",
    positive: [
      auditEvent({ verb: "update", objectRef: { resource: "configmaps", namespace: "kube-system" } }),
    ],
    negative: [
      auditEvent({
        verb: "update",
        user: { username: "system:kube-controller-manager" },
        objectRef: { resource: "configmaps", namespace: "kube-system" },
      }),
    ],
  },
  {
    rule: "wildcard-role",
    positive: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "clusterroles", apiGroup: "rbac.authorization.k8s.io", name: "god" },
        requestObject: {
          metadata: { name: "god" },
          rules: [{ apiGroups: [""], resources: ["*"], verbs: ["get"] }],
        },
      }),
    ],
    negative: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "clusterroles", name: "reader" },
        requestObject: {
          metadata: { name: "reader" },
          rules: [{ apiGroups: ["*"], resources: ["pods"], verbs: ["get"] }],
        },
      }),
    ],
  },
  {
    rule: "privileged-binding",
    positive: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "clusterrolebindings", name: "oops" },
        requestObject: { roleRef: { kind: "ClusterRole", name: "cluster-admin" }, subjects: [] },
      }),
    ],
    negative: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "rolebindings", namespace: "dev", name: "view" },
        requestObject: { roleRef: { kind: "ClusterRole", name: "view" } },
      }),
    ],
  },
  {
    rule: "anonymous-allowed",
    positive: [
      auditEvent({
        verb: "list",
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        requestURI: "/api/v1/secrets",
      }),
    ],
    negative: [
      auditEvent({
        verb: "get",
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        requestURI: "/healthz",
        objectRef: undefined,
      }),
    ],
  },
  {
    rule: "impersonation",
    positive: [auditEvent({ impersonatedUser: { username: "system:admin" } })],
    negative: [auditEvent({ user: admin })],
  },
  {
    rule: "token-by-human",
    positive: [
      auditEvent({
        verb: "create",
        objectRef: { resource: "serviceaccounts", subresource: "token", name: "ci" },
      }),
    ],
    negative: [
      auditEvent({
        verb: "create",
        user: { username: "system:node:worker-1" },
        objectRef: { resource: "serviceaccounts", subresource: "token", name: "ci" },
      }),
    ],
  },
  {
    rule: "secrets-cross-namespace",
    positive: [
      auditEvent({ verb: "list", objectRef: { resource: "secrets" }, requestURI: "/api/v1/secrets" }),
    ],
    negative: [
      auditEvent({
        verb: "get",
        user: { username: "system:serviceaccount:shop:api" },
        objectRef: { resource: "secrets", namespace: "shop", name: "db" },
      }),
    ],
  },
  {
    rule: "secrets-bulk-read",
    positive: secretReads(5),
    // Ten reads, but spread over more than the 60 s window.
    negative: secretReads(7),
  },
  {
    rule: "forbidden-burst",
    positive: Array.from({ length: 20 }, (_, i) =>
      auditEvent({ responseStatus: { code: 403 }, stageTimestamp: at(i) }),
    ),
    negative: Array.from({ length: 20 }, (_, i) =>
      auditEvent({ responseStatus: { code: 403 }, user: { username: `u${i % 2}` }, stageTimestamp: at(i) }),
    ),
  },
];

describe("built-in rules", () => {
  it("every built-in rule has an id, a severity, a description and a case here", () => {
    const rules = builtinRules();
    expect(rules.map((r) => r.id).sort()).toEqual(cases.map((c) => c.rule).sort());
    for (const r of rules) {
      expect(SEVERITIES).toContain(r.severity);
      expect(r.description.length).toBeGreaterThan(20);
      expect(r.source).toBe("builtin");
    }
  });

  it.each(cases)("$rule fires on the positive case only", ({ rule, positive, negative }) => {
    expect(fired(positive)).toContain(rule);
    expect(fired(negative)).not.toContain(rule);
  });

  it("privileged-pod reads pods and every workload's pod template", () => {
    const create = (resource: string, requestObject: unknown) =>
      auditEvent({ verb: "create", objectRef: { resource, namespace: "default", name: "x" }, requestObject });
    expect(fired([create("pods", { spec: privilegedSpec })])).toContain("privileged-pod");
    expect(
      fired([
        create("cronjobs", { spec: { jobTemplate: { spec: { template: { spec: privilegedSpec } } } } }),
      ]),
    ).toContain("privileged-pod");
    expect(
      fired([
        create("deployments", {
          spec: { template: { spec: { volumes: [{ name: "h", hostPath: { path: "/" } }] } } },
        }),
      ]),
    ).toContain("privileged-pod");
    expect(fired([create("configmaps", { spec: privilegedSpec })])).not.toContain("privileged-pod");
  });

  it("recognises a binding to a role learned earlier to grant *", () => {
    const role = auditEvent({
      verb: "create",
      objectRef: { resource: "roles", namespace: "dev", name: "all" },
      requestObject: {
        metadata: { name: "all" },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["*"] }],
      },
    });
    const binding = auditEvent({
      verb: "create",
      objectRef: { resource: "rolebindings", namespace: "dev", name: "b" },
      requestObject: { roleRef: { kind: "Role", name: "all" } },
    });
    const elsewhere = auditEvent({
      verb: "create",
      objectRef: { resource: "rolebindings", namespace: "prod", name: "b" },
      requestObject: { roleRef: { kind: "Role", name: "all" } },
    });
    expect(fired([role, binding])).toEqual(["wildcard-role", "privileged-binding"]);
    expect(fired([role, elsewhere])).toEqual(["wildcard-role"]);
  });
});

describe("the control plane's own traffic", () => {
  // What a fresh etcd makes the apiserver do (seen on a real v1.20.2, test/kube).
  const bootstrap = [
    auditEvent({
      verb: "create",
      user: { username: "system:apiserver", groups: ["system:masters"] },
      objectRef: { resource: "clusterroles", apiGroup: "rbac.authorization.k8s.io", name: "cluster-admin" },
      requestObject: {
        metadata: { name: "cluster-admin" },
        rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }],
      },
    }),
    auditEvent({
      verb: "create",
      user: { username: "system:apiserver", groups: ["system:masters"] },
      objectRef: {
        resource: "clusterrolebindings",
        apiGroup: "rbac.authorization.k8s.io",
        name: "cluster-admin",
      },
      requestObject: { roleRef: { kind: "ClusterRole", name: "cluster-admin" } },
    }),
    auditEvent({
      verb: "watch",
      user: { username: "system:kube-controller-manager" },
      objectRef: { resource: "secrets" },
      requestURI: "/api/v1/secrets?watch=true",
    }),
  ];

  it("raises nothing by default", () => {
    expect(DEFAULT_CONTROL_PLANE_USERS).toContain("system:apiserver");
    expect(fired(bootstrap)).toEqual([]);
  });

  it("still raises on the same actions by anyone else, and learns the roles it creates", () => {
    const byAdmin = bootstrap.map((e) => ({ ...e, user: admin }));
    expect(fired(byAdmin)).toEqual(["wildcard-role", "privileged-binding", "secrets-cross-namespace"]);
  });

  it("controlPlane.users in the rules config replaces the list ([] exempts no one)", async () => {
    const config = parseRulesConfig("controlPlane:\n  users: []\n", "rules.yaml");
    const engine = new RuleEngine(await loadRules({ builtins: true, dirs: [], config }));
    const got = bootstrap.flatMap((e, i) => engine.evaluateObject(i, e).map((a) => a.rule));
    expect(got).toEqual(["wildcard-role", "privileged-binding", "secrets-cross-namespace"]);
    expect(() => parseRulesConfig("controlPlane:\n  user: [x]\n", "rules.yaml")).toThrow(
      /controlPlane: unknown key "user"/,
    );
  });
});

describe("pod-exec reports attempts that passed authorization", () => {
  const exec = (code: number, annotations?: Record<string, string>) =>
    auditEvent({
      verb: "create",
      objectRef: { resource: "pods", subresource: "exec", namespace: "default", name: "web" },
      responseStatus: { code },
      ...(annotations && { annotations }),
    });
  const alertsFor = (e: AuditEvent) => new RuleEngine(builtinRules()).evaluateObject(0, e);

  it("alerts on a failed attempt (400: no host), saying it failed", () => {
    const [alert] = alertsFor(exec(400, { "authorization.k8s.io/decision": "allow" }));
    expect(alert).toMatchObject({ rule: "pod-exec", succeeded: false, responseCode: 400 });
    expect(alert!.description).toMatch(/did not succeed \(400\)/);
  });

  it("alerts on a successful one (101: the stream opened), saying it succeeded", () => {
    const [alert] = alertsFor(exec(101));
    expect(alert).toMatchObject({ rule: "pod-exec", succeeded: true, responseCode: 101 });
  });

  it("leaves forbidden and unauthenticated attempts to the 403 signals", () => {
    expect(alertsFor(exec(403, { "authorization.k8s.io/decision": "forbid" }))).toEqual([]);
    expect(alertsFor(exec(401))).toEqual([]);
    const denied = Array.from({ length: 20 }, (_, i) =>
      auditEvent({
        verb: "create",
        objectRef: { resource: "pods", subresource: "attach", namespace: "default", name: "web" },
        responseStatus: { code: 403 },
        stageTimestamp: at(i),
      }),
    );
    expect(fired(denied)).toEqual(["forbidden-burst"]);
  });
});
