// A stored audit event of a create, update or patch, as the admission request it was: the
// object is the request body the event recorded (Request level or above; for a patch, the
// patched object of a RequestResponse event), the user the one the request acted as. Used to
// replay a candidate policy over history.
import type { AuditEvent } from "../audit/types.js";
import { isRecord } from "../json/record.js";
import type { AdmissionRequest, Operation } from "./types.js";

const OPERATION: Record<string, Operation> = { create: "CREATE", update: "UPDATE", patch: "UPDATE" };

/** The verbs whose events replay can turn back into admission requests. */
export const REPLAYED_VERBS = Object.keys(OPERATION);

export type AuditRequestOutcome =
  | { request: AdmissionRequest }
  /** Metadata level (or None): the event has no body, so no policy can be evaluated on it. */
  | { belowRequestLevel: true }
  | { skipped: string };

export function auditEventRequest(e: AuditEvent): AuditRequestOutcome {
  const operation = OPERATION[e.verb];
  if (operation === undefined) return { skipped: `verb ${e.verb} is not a create, update or patch` };
  if (e.level !== "Request" && e.level !== "RequestResponse") return { belowRequestLevel: true };
  // A patch's body is a patch, not the object: only the response (RequestResponse level)
  // holds the object the admission webhook saw.
  const body = e.verb === "patch" ? e.responseObject : e.requestObject;
  if (e.verb === "patch" && (!isRecord(body) || body["kind"] === "Status"))
    return {
      skipped: "patch without the patched object (needs RequestResponse level and a successful request)",
    };
  if (!isRecord(body)) return { skipped: "no request body" };
  const ref = e.objectRef ?? {};
  const kind = typeof body["kind"] === "string" ? body["kind"] : "";
  if (ref.resource === undefined || kind === "")
    return { skipped: "the request body is not a Kubernetes object" };
  const meta = isRecord(body["metadata"]) ? body["metadata"] : {};
  const actor = e.impersonatedUser ?? e.user ?? {};
  const version =
    ref.apiVersion ?? (typeof body["apiVersion"] === "string" ? body["apiVersion"].split("/").pop()! : "");
  return {
    request: {
      uid: e.auditID,
      kind: { group: ref.apiGroup ?? "", version, kind },
      resource: { group: ref.apiGroup ?? "", version, resource: ref.resource },
      subResource: ref.subresource ?? "",
      name: ref.name ?? (typeof meta["name"] === "string" ? meta["name"] : ""),
      namespace: ref.namespace ?? "",
      operation,
      userInfo: {
        username: actor.username ?? "",
        groups: actor.groups ?? [],
        ...(actor.uid ? { uid: actor.uid } : {}),
      },
      object: body,
      // Audit events do not record the object before an update.
      oldObject: null,
      dryRun: /[?&]dryRun=/.test(e.requestURI ?? ""),
    },
  };
}
