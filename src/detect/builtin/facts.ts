// Small questions built-in rules ask about an event, named so the rules read like their intent.
import type { AuditEvent } from "../../audit/types.js";
import { isRecord } from "../../json/record.js";

export const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** The request was allowed and did not fail (101 is an upgraded exec/attach stream); no status counts as success. */
export function succeeded(e: AuditEvent): boolean {
  const code = e.responseStatus?.code;
  return code === undefined || code < 400;
}

/**
 * The request passed authentication and authorization, whatever happened next: the
 * authorizer's own annotation when the audit level kept it, else no 401 or 403 answer.
 */
export function authorized(e: AuditEvent): boolean {
  const decision = e.annotations?.["authorization.k8s.io/decision"];
  if (decision !== undefined) return decision === "allow";
  const code = e.responseStatus?.code;
  return code !== 401 && code !== 403;
}

export function resourceIs(e: AuditEvent, ...resources: string[]): boolean {
  const r = e.objectRef?.resource;
  return r !== undefined && resources.includes(r);
}

export function username(e: AuditEvent): string {
  return e.user?.username ?? "";
}

/** Kubernetes' own identities (nodes, controllers, service accounts) all start with "system:". */
export function isSystemUser(e: AuditEvent): boolean {
  return username(e).startsWith("system:");
}

export function serviceAccountNamespace(user: string): string | undefined {
  const m = /^system:serviceaccount:([^:]+):/.exec(user);
  return m?.[1];
}

/** The object the request carried, when the audit level recorded it (Request or above). */
export function requestBody(e: AuditEvent): Record<string, unknown> | undefined {
  return isRecord(e.requestObject) ? e.requestObject : undefined;
}

export function get(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const p of path) {
    if (!isRecord(v)) return undefined;
    v = v[p];
  }
  return v;
}

export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}
