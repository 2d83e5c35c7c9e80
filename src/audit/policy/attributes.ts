// Rebuilds the authorizer attributes the apiserver evaluated its policy with from a
// recorded audit Event, so evaluating a stored event gives the apiserver's own answer.
import type { AuditEvent } from "../types.js";
import type { RequestAttributes } from "./types.js";

/**
 * The apiserver evaluates the policy with the authenticated user (before impersonation),
 * so `user` is used, never `impersonatedUser`. An event whose authentication failed has an
 * empty user: that is a request without a user, which no users/userGroups rule matches.
 */
export function attributesFromEvent(event: AuditEvent): RequestAttributes {
  const u = event.user ?? {};
  const user =
    (u.username ?? "") === "" && (u.groups ?? []).length === 0
      ? undefined
      : { name: u.username ?? "", groups: u.groups ?? [] };
  const path = urlPath(event.requestURI ?? "");
  const ref = event.objectRef;
  if (ref === undefined) {
    return {
      user,
      verb: event.verb,
      resourceRequest: false,
      namespace: "",
      apiGroup: "",
      resource: "",
      subresource: "",
      name: "",
      path,
    };
  }
  return {
    user,
    verb: event.verb,
    resourceRequest: true,
    namespace: ref.namespace ?? "",
    apiGroup: ref.apiGroup ?? "",
    resource: ref.resource ?? "",
    subresource: ref.subresource ?? "",
    name: nameAsRequested(event.verb, path, ref.name ?? ""),
    path,
  };
}

/** req.URL.Path: the request URI without its query, percent-decoded. */
export function urlPath(requestURI: string): string {
  const q = requestURI.indexOf("?");
  const raw = q < 0 ? requestURI : requestURI.slice(0, q);
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * After the policy was evaluated, the apiserver fills an empty objectRef.name from the
 * request body (LogRequestObject). A create sent to a collection URL had no name when the
 * policy ran, so the name is taken from the URL, where `resourceNames` rules looked for it.
 */
function nameAsRequested(verb: string, path: string, recorded: string): string {
  if (verb !== "create") return recorded;
  const parsed = resourcePathName(path);
  return parsed ?? recorded;
}

/**
 * The name segment of a resource URL (/api/v1/…, /apis/group/version/…), "" for a
 * collection, undefined when the path is not a resource path.
 */
export function resourcePathName(path: string): string | undefined {
  let parts = path.split("/").filter((p) => p !== "");
  if (parts[0] === "api") parts = parts.slice(2);
  else if (parts[0] === "apis") parts = parts.slice(3);
  else return undefined;
  if (parts[0] === "watch") parts = parts.slice(1);
  // /namespaces/{ns}/{resource}/… unless the next segment is a namespace subresource.
  if (parts[0] === "namespaces" && parts.length > 2 && parts[2] !== "status" && parts[2] !== "finalize") {
    parts = parts.slice(2);
  }
  if (parts.length === 0) return undefined;
  return parts[1] ?? "";
}
