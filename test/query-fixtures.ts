// A small investigation scenario for the index and query tests: a ConfigMap created, patched
// and deleted by different people, a forbidden secret read, an exec, and kubetrail records.
import type { AuditEvent } from "../src/audit/types.js";

export interface EventSpec {
  id: string;
  time: string;
  user: string;
  groups?: string[];
  verb: string;
  resource?: string;
  subresource?: string;
  apiGroup?: string;
  namespace?: string;
  name?: string;
  code?: number;
  ip?: string;
  decision?: "allow" | "forbid";
  body?: unknown;
  impersonate?: string;
}

/** One request's events: RequestReceived then ResponseComplete (the apiserver's usual pair). */
export function requestEvents(s: EventSpec): AuditEvent[] {
  const level = s.body === undefined ? "Metadata" : "Request";
  const base: AuditEvent = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level,
    auditID: s.id,
    stage: "RequestReceived",
    requestURI: `/apis/${s.apiGroup ?? "v1"}/namespaces/${s.namespace ?? ""}/${s.resource ?? ""}/${s.name ?? ""}`,
    verb: s.verb,
    user: { username: s.user, groups: s.groups ?? ["system:authenticated"] },
    ...(s.impersonate ? { impersonatedUser: { username: s.impersonate, groups: ["system:masters"] } } : {}),
    sourceIPs: [s.ip ?? "10.0.0.1"],
    userAgent: "kubectl/v1.31.0 (linux/amd64) kubernetes/abcdef",
    ...(s.resource
      ? {
          objectRef: {
            resource: s.resource,
            ...(s.namespace ? { namespace: s.namespace } : {}),
            ...(s.name ? { name: s.name } : {}),
            ...(s.apiGroup ? { apiGroup: s.apiGroup } : {}),
            apiVersion: "v1",
            ...(s.subresource ? { subresource: s.subresource } : {}),
          },
        }
      : {}),
    ...(s.body === undefined ? {} : { requestObject: s.body }),
    requestReceivedTimestamp: s.time,
    stageTimestamp: s.time,
  };
  const code = s.code ?? 200;
  const done: AuditEvent = {
    ...base,
    stage: "ResponseComplete",
    responseStatus: {
      metadata: {},
      code,
      ...(code >= 400 ? { status: "Failure", reason: "Forbidden" } : {}),
    },
    annotations: {
      "authorization.k8s.io/decision": s.decision ?? (code === 403 ? "forbid" : "allow"),
      "authorization.k8s.io/reason": code === 403 ? "" : 'RBAC: allowed by ClusterRoleBinding "admins"',
    },
  };
  return [base, done];
}

export const SCENARIO: EventSpec[] = [
  {
    id: "a1",
    time: "2026-11-21T03:00:00.000001Z",
    user: "alice",
    verb: "create",
    resource: "configmaps",
    namespace: "prod",
    name: "app-config",
    code: 201,
    body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config" }, data: { mode: "safe" } },
  },
  {
    id: "b2",
    time: "2026-11-21T03:05:00.500000Z",
    user: "bob",
    verb: "update",
    resource: "configmaps",
    namespace: "prod",
    name: "app-config",
    ip: "192.168.1.20",
    body: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "app-config" },
      data: { mode: "fast", extra: "1" },
    },
  },
  {
    id: "c3",
    time: "2026-11-21T03:10:00.250000Z",
    user: "mallory",
    groups: ["system:authenticated", "contractors"],
    verb: "get",
    resource: "secrets",
    namespace: "prod",
    name: "db-password",
    code: 403,
    ip: "203.0.113.9",
  },
  {
    id: "d4",
    time: "2026-11-21T03:12:00.123456Z",
    user: "mallory",
    groups: ["system:authenticated", "contractors"],
    verb: "delete",
    resource: "configmaps",
    namespace: "prod",
    name: "app-config",
    ip: "203.0.113.9",
  },
  {
    id: "e5",
    time: "2026-11-21T03:15:00.000000Z",
    user: "alice",
    verb: "create",
    resource: "pods",
    subresource: "exec",
    namespace: "prod",
    name: "web-0",
    code: 101,
  },
  {
    id: "f6",
    time: "2026-11-21T03:20:00.000000Z",
    user: "system:serviceaccount:kube-system:deployment-controller",
    groups: ["system:serviceaccounts", "system:authenticated"],
    verb: "patch",
    resource: "deployments",
    apiGroup: "apps",
    namespace: "prod",
    name: "web",
    body: { spec: { replicas: 3 } },
  },
  {
    id: "g7",
    time: "2026-11-21T03:25:00.000000Z",
    user: "bob",
    verb: "create",
    resource: "clusterrolebindings",
    apiGroup: "rbac.authorization.k8s.io",
    name: "mallory-admin",
    code: 201,
    impersonate: "system:admin",
  },
];

/** A kubetrail record (not an audit event) sharing the log. */
export const ALERT_RECORD = {
  apiVersion: "kubetrail.dev/v1",
  kind: "Alert",
  time: "2026-11-21T03:12:01.000000Z",
  rule: "configmap-deleted",
};

/** The scenario as log entry bytes, in log order. */
export function scenarioEntries(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const spec of SCENARIO) {
    for (const ev of requestEvents(spec)) out.push(new TextEncoder().encode(JSON.stringify(ev)));
    if (spec.id === "d4") out.push(new TextEncoder().encode(JSON.stringify(ALERT_RECORD)));
  }
  return out;
}
