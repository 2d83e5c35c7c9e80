// Audit events for detection tests, shaped like what kube-apiserver writes at RequestResponse level.
import type { AuditEvent } from "../src/audit/types.js";

let counter = 0;

/** A successful ResponseComplete event; override any field. Each call gets a fresh auditID. */
export function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  counter++;
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: "/api/v1/namespaces/default/pods",
    verb: "get",
    user: { username: "alice@example.com", groups: ["system:authenticated"] },
    sourceIPs: ["10.0.0.7"],
    userAgent: "kubectl/v1.31.0",
    objectRef: { resource: "pods", namespace: "default", name: "web-0", apiVersion: "v1" },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: "2026-11-21T05:58:25.096042Z",
    stageTimestamp: "2026-11-21T05:58:25.101234Z",
    ...overrides,
  };
}

/** `kubectl exec` into pod namespace/name (what the pod-exec rule alerts on); override any field. */
export function execInto(namespace: string, name: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return auditEvent({
    verb: "create",
    objectRef: { resource: "pods", subresource: "exec", namespace, name },
    ...overrides,
  });
}

/** Timestamp `seconds` after a fixed base, with microseconds, as the apiserver writes it. */
export function at(seconds: number): string {
  const base = Date.parse("2026-11-21T06:00:00.000Z");
  return new Date(base + seconds * 1000).toISOString().replace("Z", "123Z");
}

export function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
