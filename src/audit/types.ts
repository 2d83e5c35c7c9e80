// Kubernetes audit.k8s.io/v1 types, as the kube-apiserver writes them.
// Field names follow staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go.
// Timestamps are kept as the original strings: they carry microseconds, which Date would lose.

export type Level = "None" | "Metadata" | "Request" | "RequestResponse";
export const LEVELS: readonly Level[] = ["None", "Metadata", "Request", "RequestResponse"];

export type Stage = "RequestReceived" | "ResponseStarted" | "ResponseComplete" | "Panic";
export const STAGES: readonly Stage[] = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"];

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

export interface Status {
  metadata?: Record<string, unknown>;
  status?: string;
  message?: string;
  reason?: string;
  details?: unknown;
  code?: number;
}

/** One audit event. Unknown fields are preserved: the stored bytes are the truth. */
export interface AuditEvent {
  kind?: "Event";
  apiVersion?: string;
  level: Level;
  auditID: string;
  stage: Stage;
  requestURI: string;
  verb: string;
  user: UserInfo;
  impersonatedUser?: UserInfo;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: Status;
  requestObject?: unknown;
  responseObject?: unknown;
  /** MicroTime, RFC 3339 with microseconds, e.g. 2026-11-21T05:58:25.096042Z */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

export interface EventList {
  kind: "EventList";
  apiVersion: string;
  metadata?: Record<string, unknown>;
  items: AuditEvent[];
}

export const AUDIT_API_VERSIONS = ["audit.k8s.io/v1", "audit.k8s.io/v1beta1"] as const;

/** Annotations kubetrail itself adds to stored events; prefixed so they never collide with the apiserver's. */
export const KUBETRAIL_ANNOTATIONS = {
  /** Index (0-based) of the ingest policy rule that shaped this event, or "none". */
  policyRule: "kubetrail.dev/policy-rule",
  /** Comma-separated JSON paths whose values were (wholly or in part) replaced by HMAC tags. */
  redacted: "kubetrail.dev/redacted",
  /** Comma-separated kinds of the credentials recognised by value (docs/secrets.md), sorted. */
  redactedKinds: "kubetrail.dev/redacted-kinds",
  /** Set when an event with the same (auditID, stage) but different content was already stored. */
  conflict: "kubetrail.dev/duplicate-conflict",
} as const;

/** How a masked value starts in a stored event: the tag's format is in redact/tag.ts. */
export const REDACTION_TAG_PREFIX = "kubetrail-hmac-sha256:";

/** kubetrail's own records share the log with audit events; they carry this apiVersion. */
export const KUBETRAIL_API_VERSION = "kubetrail.dev/v1";
