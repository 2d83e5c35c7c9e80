// What the index keeps about one log entry: the fields people filter on, pulled out of the
// stored JSON. The entry bytes stay in the log; the row only points back to them.
import type { AuditEvent, Stage } from "../audit/types.js";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { rfc3339ToMicros } from "./time.js";
import { isRecord } from "../json/record.js";
import type { Gone } from "../store/types.js";

/** Annotations the apiserver's authorizer adds to every event. */
const DECISION_ANNOTATION = "authorization.k8s.io/decision";
const REASON_ANNOTATION = "authorization.k8s.io/reason";

/**
 * Order in which stages supersede each other for "one row per request": a request that
 * reached ResponseComplete is shown as that, else Panic, else ResponseStarted, else RequestReceived.
 */
export const STAGE_RANK: Record<Stage, number> = {
  RequestReceived: 0,
  ResponseStarted: 1,
  Panic: 2,
  ResponseComplete: 3,
};

/** Stages by STAGE_RANK, for rows read back from the index. */
export const STAGE_OF_RANK: readonly Stage[] = [
  "RequestReceived",
  "ResponseStarted",
  "Panic",
  "ResponseComplete",
];

/** Audit levels as the index stores them (their position here). */
export const LEVELS = ["None", "Metadata", "Request", "RequestResponse"] as const;

/** The level's code in the index; null for a missing or unknown level. */
export function levelCode(level: string | null): number | null {
  const i = (LEVELS as readonly (string | null)[]).indexOf(level);
  return i < 0 ? null : i;
}

export interface IndexRow {
  idx: number;
  leafHash: Uint8Array;
  /**
   * "Event" for audit events; the record kind for kubetrail.dev/v1 records; "pruned" or "erased"
   * for an entry whose bytes were gone when it was indexed; "unknown" otherwise.
   */
  kind: string;
  /** requestReceivedTimestamp (or a record's `time`) in microseconds; 0 when absent or malformed. */
  timeUs: number;
  /** The original timestamp string, shown as recorded. */
  time: string | null;
  stageTime: string | null;
  user: string | null;
  uid: string | null;
  groups: string[];
  impersonatedUser: string | null;
  impersonatedGroups: string[];
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  apiGroup: string | null;
  apiVersion: string | null;
  code: number | null;
  sourceIPs: string[];
  userAgent: string | null;
  decision: string | null;
  reason: string | null;
  auditID: string | null;
  stage: Stage | null;
  level: string | null;
  requestURI: string | null;
  hasRequestObject: boolean;
  /** Length of the entry in bytes. */
  length: number;
}

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function obj(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

function emptyRow(idx: number, leafHash: Uint8Array, kind: string): IndexRow {
  return {
    idx,
    leafHash,
    kind,
    timeUs: 0,
    time: null,
    stageTime: null,
    user: null,
    uid: null,
    groups: [],
    impersonatedUser: null,
    impersonatedGroups: [],
    verb: null,
    resource: null,
    subresource: null,
    namespace: null,
    name: null,
    apiGroup: null,
    apiVersion: null,
    code: null,
    sourceIPs: [],
    userAgent: null,
    decision: null,
    reason: null,
    auditID: null,
    stage: null,
    level: null,
    requestURI: null,
    hasRequestObject: false,
    length: 0,
  };
}

function micros(time: string | null): number {
  return time === null ? 0 : (rfc3339ToMicros(time) ?? 0);
}

function isStage(v: unknown): v is Stage {
  return typeof v === "string" && Object.hasOwn(STAGE_RANK, v);
}

/**
 * The index row for one entry. Never throws: an entry that is not an audit event still gets a
 * row (kind "unknown" or the record kind) so the index covers every log position, but only
 * audit events carry a stage and so only they are returned by event queries.
 */
export function rowFromEntry(idx: number, data: Uint8Array, leafHash: Uint8Array): IndexRow {
  return parsedEntry(idx, data, leafHash).row;
}

/**
 * The row of an entry whose bytes are gone (pruned or erased) when it is indexed: it keeps the
 * entry's place and leaf hash, so the index covers every log position, and answers no query.
 */
export function goneRow(idx: number, leafHash: Uint8Array, gone: Gone): IndexRow {
  return emptyRow(idx, leafHash, gone.state);
}

/** The row and the parsed entry (undefined when it is not JSON), from one parse of the bytes. */
export function parsedEntry(
  idx: number,
  data: Uint8Array,
  leafHash: Uint8Array,
): { row: IndexRow; value: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    value = undefined;
  }
  const row =
    value === undefined ? emptyRow(idx, leafHash, "unknown") : fieldsFromValue(idx, value, leafHash);
  row.length = data.length;
  return { row, value };
}

/**
 * The row of an entry from the object it was encoded from (what ingest parsed), sparing a parse
 * of its bytes; `length` is the entry's stored length.
 */
export function rowFromValue(idx: number, value: unknown, leafHash: Uint8Array, length: number): IndexRow {
  const row = fieldsFromValue(idx, value, leafHash);
  row.length = length;
  return row;
}

/** kubetrail.dev/v1 AdmissionDecision (src/guard/decision-record.ts): filtered like the request it judged. */
export const ADMISSION_DECISION = "AdmissionDecision";

/** Who asked to do what to which object, and the admission result (allow, deny, warn, audit) as its decision. */
function decisionFields(row: IndexRow, o: Record<string, unknown>): void {
  const user = obj(o["user"]);
  const ref = obj(o["object"]);
  row.user = str(user["username"]);
  row.uid = str(user["uid"]);
  row.groups = strList(user["groups"]);
  row.verb = str(o["operation"])?.toLowerCase() ?? null;
  row.resource = str(ref["resource"]);
  row.subresource = str(ref["subresource"]) || null;
  row.namespace = str(ref["namespace"]);
  row.name = str(ref["name"]);
  row.apiGroup = str(ref["apiGroup"]) ?? "";
  row.apiVersion = str(ref["apiVersion"]);
  row.decision = str(o["result"]);
}

function fieldsFromValue(idx: number, parsed: unknown, leafHash: Uint8Array): IndexRow {
  const o = obj(parsed);
  if (o["apiVersion"] === KUBETRAIL_API_VERSION) {
    const row = emptyRow(idx, leafHash, str(o["kind"]) ?? "unknown");
    row.time = str(o["time"]) ?? str(o["timestamp"]);
    row.timeUs = micros(row.time);
    if (row.kind === ADMISSION_DECISION) decisionFields(row, o);
    return row;
  }
  if (!isStage(o["stage"]) || typeof o["auditID"] !== "string") return emptyRow(idx, leafHash, "unknown");
  const ev = o as unknown as AuditEvent;
  const row = emptyRow(idx, leafHash, "Event");
  const user = obj(ev.user);
  const imp = obj(ev.impersonatedUser);
  const ref = obj(ev.objectRef);
  const status = obj(ev.responseStatus);
  const ann = obj(ev.annotations);
  row.time = str(ev.requestReceivedTimestamp) ?? str(ev.stageTimestamp);
  row.timeUs = micros(row.time);
  row.stageTime = str(ev.stageTimestamp);
  row.user = str(user["username"]);
  row.uid = str(user["uid"]);
  row.groups = strList(user["groups"]);
  row.impersonatedUser = str(imp["username"]);
  row.impersonatedGroups = strList(imp["groups"]);
  row.verb = str(ev.verb);
  row.resource = str(ref["resource"]);
  row.subresource = str(ref["subresource"]) || null;
  row.namespace = str(ref["namespace"]);
  row.name = str(ref["name"]);
  // The apiserver omits apiGroup for the core group; store "" so "core" is queryable.
  row.apiGroup = ev.objectRef === undefined ? null : (str(ref["apiGroup"]) ?? "");
  row.apiVersion = str(ref["apiVersion"]);
  row.code = typeof status["code"] === "number" && Number.isInteger(status["code"]) ? status["code"] : null;
  row.sourceIPs = strList(ev.sourceIPs);
  row.userAgent = str(ev.userAgent);
  row.decision = str(ann[DECISION_ANNOTATION]);
  row.reason = str(ann[REASON_ANNOTATION]);
  row.auditID = ev.auditID;
  row.stage = ev.stage;
  row.level = str(ev.level);
  row.requestURI = str(ev.requestURI);
  row.hasRequestObject = ev.requestObject !== undefined && ev.requestObject !== null;
  return row;
}
