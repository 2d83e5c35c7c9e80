// admission.k8s.io AdmissionReview: checking what the apiserver sent (every problem named by
// its field, so a malformed review gets a clear 400), and the response it expects.
import { isRecord } from "../json/record.js";
import { denialStatus } from "./evaluate.js";
import {
  OPERATIONS,
  GuardError,
  type AdmissionRequest,
  type GuardDecision,
  type Operation,
  type RequestUser,
} from "./types.js";

export const ADMISSION_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;
export type AdmissionVersion = (typeof ADMISSION_VERSIONS)[number];

export interface ParsedReview {
  apiVersion: AdmissionVersion;
  request: AdmissionRequest;
}

const join = (at: string, key: string): string => (at === "" ? key : `${at}.${key}`);

class Problems {
  readonly list: string[] = [];
  add(field: string, message: string): void {
    this.list.push(`${field}: ${message}`);
  }
  string(o: Record<string, unknown>, key: string, at: string, required: boolean): string {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) this.add(join(at, key), "required");
      return "";
    }
    if (typeof v !== "string") {
      this.add(join(at, key), "must be a string");
      return "";
    }
    return v;
  }
  record(
    o: Record<string, unknown>,
    key: string,
    at: string,
    required: boolean,
  ): Record<string, unknown> | undefined {
    const v = o[key];
    if (v === undefined || v === null) {
      if (required) this.add(join(at, key), "required");
      return undefined;
    }
    if (!isRecord(v)) {
      this.add(join(at, key), "must be an object");
      return undefined;
    }
    return v;
  }
}

/** request.kind / request.resource and their request* twins: group, version and a third field. */
function groupVersion<K extends "kind" | "resource">(
  p: Problems,
  o: Record<string, unknown>,
  key: string,
  third: K,
  required: boolean,
): ({ group: string; version: string } & Record<K, string>) | undefined {
  const v = p.record(o, key, "request", required);
  if (!v) return undefined;
  return {
    group: p.string(v, "group", `request.${key}`, false),
    version: p.string(v, "version", `request.${key}`, true),
    [third]: p.string(v, third, `request.${key}`, true),
  } as { group: string; version: string } & Record<K, string>;
}

function userInfo(p: Problems, o: Record<string, unknown>): RequestUser {
  const u = p.record(o, "userInfo", "request", true) ?? {};
  const groups = u["groups"];
  if (
    groups !== undefined &&
    groups !== null &&
    (!Array.isArray(groups) || groups.some((g) => typeof g !== "string"))
  )
    p.add("request.userInfo.groups", "must be a list of strings");
  const user: RequestUser = {
    username: p.string(u, "username", "request.userInfo", false),
    groups: Array.isArray(groups) ? (groups.filter((g) => typeof g === "string") as string[]) : [],
  };
  const uid = p.string(u, "uid", "request.userInfo", false);
  if (uid !== "") user.uid = uid;
  if (isRecord(u["extra"])) user.extra = u["extra"] as Record<string, string[]>;
  return user;
}

/** Checks a decoded AdmissionReview body; throws GuardError("review") listing every problem. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  const p = new Problems();
  if (!isRecord(body)) throw new GuardError("review", "the body must be an AdmissionReview object");
  const apiVersion = body["apiVersion"];
  if (!(ADMISSION_VERSIONS as readonly unknown[]).includes(apiVersion))
    p.add("apiVersion", `must be ${ADMISSION_VERSIONS.join(" or ")}, not ${JSON.stringify(apiVersion)}`);
  if (body["kind"] !== "AdmissionReview")
    p.add("kind", `must be AdmissionReview, not ${JSON.stringify(body["kind"])}`);
  const r = p.record(body, "request", "", true);
  if (!r) throw new GuardError("review", `malformed AdmissionReview: ${p.list.join("; ")}`);
  const uid = p.string(r, "uid", "request", true);
  if (r["uid"] === "") p.add("request.uid", "required: must not be empty");
  const operation = p.string(r, "operation", "request", true);
  if (operation !== "" && !(OPERATIONS as readonly string[]).includes(operation))
    p.add("request.operation", `must be one of ${OPERATIONS.join(", ")}`);
  const object = r["object"];
  const oldObject = r["oldObject"];
  if (object !== undefined && object !== null && !isRecord(object))
    p.add("request.object", "must be an object or null");
  if (oldObject !== undefined && oldObject !== null && !isRecord(oldObject))
    p.add("request.oldObject", "must be an object or null");
  if (r["dryRun"] !== undefined && r["dryRun"] !== null && typeof r["dryRun"] !== "boolean")
    p.add("request.dryRun", "must be true or false");
  const request: AdmissionRequest = {
    uid,
    kind: groupVersion(p, r, "kind", "kind", true) ?? { group: "", version: "", kind: "" },
    resource: groupVersion(p, r, "resource", "resource", true) ?? { group: "", version: "", resource: "" },
    subResource: p.string(r, "subResource", "request", false),
    name: p.string(r, "name", "request", false),
    namespace: p.string(r, "namespace", "request", false),
    operation: operation as Operation,
    userInfo: userInfo(p, r),
    object: isRecord(object) ? object : null,
    oldObject: isRecord(oldObject) ? oldObject : null,
    dryRun: r["dryRun"] === true,
  };
  const requestKind = groupVersion(p, r, "requestKind", "kind", false);
  if (requestKind) request.requestKind = requestKind;
  const requestResource = groupVersion(p, r, "requestResource", "resource", false);
  if (requestResource) request.requestResource = requestResource;
  if (typeof r["requestSubResource"] === "string") request.requestSubResource = r["requestSubResource"];
  if (r["options"] !== undefined) request.options = r["options"];
  if (p.list.length > 0) throw new GuardError("review", `malformed AdmissionReview: ${p.list.join("; ")}`);
  return { apiVersion: apiVersion as AdmissionVersion, request };
}

export interface ReviewResponse {
  apiVersion: AdmissionVersion;
  kind: "AdmissionReview";
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; reason: string; message: string };
    warnings?: string[];
    auditAnnotations?: Record<string, string>;
  };
}

/** The AdmissionReview answering `review` with `decision`. */
export function reviewResponse(
  review: ParsedReview,
  decision: GuardDecision,
  auditAnnotations: Record<string, string>,
): ReviewResponse {
  const response: ReviewResponse["response"] = { uid: review.request.uid, allowed: decision.allowed };
  if (!decision.allowed)
    response.status = { ...denialStatus(decision), message: decision.message ?? "denied by kubetrail guard" };
  if (decision.warnings.length > 0) response.warnings = decision.warnings;
  if (Object.keys(auditAnnotations).length > 0) response.auditAnnotations = auditAnnotations;
  return { apiVersion: review.apiVersion, kind: "AdmissionReview", response };
}
