// Exceptions: a policy's failures are waived for some namespaces, objects or subjects, each
// exception owned by someone and expiring. Expiry is checked against the clock at every
// evaluation, so an expired exception stops applying without a reload or restart.
import { globMatcher } from "../../detect/glob.js";
import { isRecord } from "../../json/record.js";
import type { AdmissionRequest, ExceptionUse } from "../types.js";
import type { FieldErrors } from "./field-errors.js";

interface ObjectPattern {
  kind?: (v: string) => boolean;
  namespace?: (v: string) => boolean;
  name?: (v: string) => boolean;
}

export interface PolicyException {
  name: string;
  owner: string;
  /** RFC 3339, as written. */
  expires: string;
  expiresMs: number;
  reason?: string;
  namespaces: ((v: string) => boolean)[];
  objects: ObjectPattern[];
  users: ((v: string) => boolean)[];
  groups: ((v: string) => boolean)[];
  serviceAccounts: ((v: string) => boolean)[];
  /** When set, only violations of these checks are waived. */
  checks?: Set<string>;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

export function decodeExceptions(value: unknown, at: string, errs: FieldErrors): PolicyException[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errs.add(at, "must be a list");
    return [];
  }
  const names = new Set<string>();
  return value.flatMap((v: unknown, i): PolicyException[] => {
    const p = `${at}[${i}]`;
    if (!isRecord(v)) {
      errs.add(p, "must be an object");
      return [];
    }
    errs.unknownFields(
      v,
      [
        "name",
        "owner",
        "expires",
        "reason",
        "namespaces",
        "objects",
        "users",
        "groups",
        "serviceAccounts",
        "checks",
      ],
      p,
    );
    const name = errs.string(v, "name", p) ?? "";
    const owner = errs.string(v, "owner", p) ?? "";
    const expires =
      errs.string(v, "expires", p) ?? (v["expires"] instanceof Date ? v["expires"].toISOString() : "");
    if (name === "") errs.add(`${p}.name`, "required");
    else if (names.has(name)) errs.add(`${p}.name`, `"${name}" is used twice`);
    names.add(name);
    if (owner === "") errs.add(`${p}.owner`, "required: who answers for this exception");
    const expiresMs = RFC3339.test(expires) ? Date.parse(expires) : NaN;
    if (Number.isNaN(expiresMs))
      errs.add(`${p}.expires`, "required: an RFC 3339 date or time, e.g. 2026-06-30T00:00:00Z");
    const objects = errs.array(v, "objects", p).flatMap((o: unknown, j): ObjectPattern[] => {
      if (!isRecord(o)) {
        errs.add(`${p}.objects[${j}]`, "must be an object (kind, namespace, name)");
        return [];
      }
      errs.unknownFields(o, ["kind", "namespace", "name"], `${p}.objects[${j}]`);
      const g = (k: string) => {
        const s = errs.string(o, k, `${p}.objects[${j}]`);
        return s === undefined ? undefined : globMatcher(s);
      };
      return [{ kind: g("kind"), namespace: g("namespace"), name: g("name") }];
    });
    const exc: PolicyException = {
      name,
      owner,
      expires,
      expiresMs,
      reason: errs.string(v, "reason", p),
      namespaces: errs.strings(v, "namespaces", p).map(globMatcher),
      objects,
      users: errs.strings(v, "users", p).map(globMatcher),
      groups: errs.strings(v, "groups", p).map(globMatcher),
      serviceAccounts: errs.strings(v, "serviceAccounts", p).map(globMatcher),
    };
    const checks = errs.strings(v, "checks", p);
    if (checks.length > 0) exc.checks = new Set(checks);
    if (
      exc.namespaces.length +
        exc.objects.length +
        exc.users.length +
        exc.groups.length +
        exc.serviceAccounts.length ===
      0
    )
      errs.add(
        p,
        "needs namespaces, objects, users, groups or serviceAccounts: an exception for everything is no policy",
      );
    return [exc];
  });
}

const any = (ms: readonly ((v: string) => boolean)[], v: string) => ms.some((m) => m(v));

function objectMatches(o: ObjectPattern, r: AdmissionRequest): boolean {
  return (
    (o.kind === undefined || o.kind(r.kind.kind)) &&
    (o.namespace === undefined || o.namespace(r.namespace)) &&
    (o.name === undefined || o.name(r.name))
  );
}

function subjectListed(e: PolicyException, r: AdmissionRequest): boolean {
  const user = r.userInfo.username;
  if (any(e.users, user)) return true;
  if (r.userInfo.groups.some((g) => any(e.groups, g))) return true;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return sa !== null && any(e.serviceAccounts, `${sa[1]}/${sa[2]}`);
}

/**
 * True when `e` covers this request at `nowMs`: not expired, and every kind of scope it
 * names matches (namespaces AND objects AND subjects, each one of its entries).
 */
export function exceptionApplies(e: PolicyException, r: AdmissionRequest, nowMs: number): boolean {
  if (!(nowMs < e.expiresMs)) return false;
  if (e.namespaces.length > 0 && !any(e.namespaces, r.namespace)) return false;
  if (e.objects.length > 0 && !e.objects.some((o) => objectMatches(o, r))) return false;
  if (e.users.length + e.groups.length + e.serviceAccounts.length > 0 && !subjectListed(e, r)) return false;
  return true;
}

export function exceptionUse(e: PolicyException): ExceptionUse {
  return e.reason === undefined
    ? { name: e.name, owner: e.owner, expires: e.expires }
    : { name: e.name, owner: e.owner, expires: e.expires, reason: e.reason };
}
