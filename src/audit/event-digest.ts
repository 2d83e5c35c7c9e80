// A few fields of an audit event, taken where the event is parsed anyway (a receive worker),
// so a consumer that gets only the stored bytes (the detector) can tell whether it needs to
// parse them at all: most events are reads that no rule looks at. For an event that carries
// request or response bodies, the digest also holds the event without them as JSON: most
// rules never read bodies, and parsing them is most of what such an event costs.
import type { AuditEvent } from "./types.js";

export interface EventDigest {
  stage: string;
  /** Lower-cased, as the rule engine indexes them. */
  verb: string;
  /** objectRef.resource, lower-cased; absent for non-resource requests. */
  resource?: string;
  subresource?: string;
  namespace?: string;
  /** responseStatus.code, when the event has one. */
  code?: number;
  /** system:anonymous, or in the group system:unauthenticated. */
  anonymous: boolean;
  /** The user is one of Kubernetes' own identities (a name starting "system:"). */
  system: boolean;
  /** impersonatedUser is set. */
  impersonated: boolean;
  /** The event as JSON without requestObject and responseObject, when it had either. */
  withoutBodies?: string;
}

export function digestEvent(e: AuditEvent): EventDigest {
  const d: EventDigest = {
    stage: e.stage,
    verb: typeof e.verb === "string" ? e.verb.toLowerCase() : "",
    anonymous:
      e.user?.username === "system:anonymous" || (e.user?.groups ?? []).includes("system:unauthenticated"),
    system: typeof e.user?.username === "string" && e.user.username.startsWith("system:"),
    impersonated: e.impersonatedUser !== undefined && e.impersonatedUser !== null,
  };
  const ref = e.objectRef;
  if (typeof ref?.resource === "string") d.resource = ref.resource.toLowerCase();
  if (typeof ref?.subresource === "string") d.subresource = ref.subresource;
  if (typeof ref?.namespace === "string") d.namespace = ref.namespace;
  if (typeof e.responseStatus?.code === "number") d.code = e.responseStatus.code;
  if (e.requestObject !== undefined || e.responseObject !== undefined) {
    // Every other field in its place: undefined members are left out by JSON.stringify.
    d.withoutBodies = JSON.stringify({ ...e, requestObject: undefined, responseObject: undefined });
  }
  return d;
}
