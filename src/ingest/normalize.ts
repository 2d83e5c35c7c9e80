// One audit event arrives in two shapes: inside a webhook EventList (no kind/apiVersion on the
// items) and as a line of the log backend (kind/apiVersion first). Both become the same entry —
// the sender's bytes where they can be stored as sent (sent-bytes.ts), else the normalised event
// encoded here — so the webhook and `import` store identical entries and dedupe across the two.
import { isUtf8 } from "node:buffer";
import { AUDIT_API_VERSIONS, LEVELS, STAGES, type AuditEvent } from "../audit/types.js";
import { IngestError, tooDeepAsBadInput } from "./errors.js";
import {
  entriesOfItems,
  entryOfLine,
  EVENT_TYPE_META,
  eventListItems,
  storableAsSent,
  type EventListScan,
} from "./sent-bytes.js";
import { isRecord } from "../json/record.js";

export const V1 = "audit.k8s.io/v1";
const V1BETA1 = "audit.k8s.io/v1beta1";

// RFC 3339 as Go's MicroTime/Time marshal it (fraction optional, Z or numeric offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

// v1beta1 carried an ObjectMeta and a deprecated `timestamp`; the apiserver's conversion to v1
// drops both and keeps every other field unchanged.
const V1BETA1_ONLY_FIELDS = new Set(["metadata", "timestamp"]);

// Fields whose type the index, detector and policy rely on; the apiserver always sends these shapes.
const OBJECT_FIELDS = ["user", "impersonatedUser", "objectRef", "responseStatus", "annotations"] as const;
const STRING_FIELDS = ["requestURI", "verb", "userAgent"] as const;

function checkApiVersion(apiVersion: unknown, where: string): string {
  if (typeof apiVersion !== "string" || !(AUDIT_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw new IngestError(
      "wrong_api_version",
      `${where}: apiVersion ${JSON.stringify(apiVersion)} is not one of ${AUDIT_API_VERSIONS.join(", ")}`,
    );
  }
  return apiVersion;
}

function requireString(event: Record<string, unknown>, field: string, where: string): string {
  const value = event[field];
  if (typeof value !== "string" || value === "") {
    throw new IngestError("invalid_event", `${where}: field ${field} is missing or not a non-empty string`);
  }
  return value;
}

/** Checks the fields kubetrail relies on (dedupe key, time order, level); everything else is kept as sent. */
function validateEvent(event: Record<string, unknown>, where: string): void {
  requireString(event, "auditID", where);
  const stage = requireString(event, "stage", where);
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new IngestError(
      "invalid_event",
      `${where}: field stage ${JSON.stringify(stage)} is not one of ${STAGES.join(", ")}`,
    );
  }
  const level = requireString(event, "level", where);
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new IngestError(
      "invalid_event",
      `${where}: field level ${JSON.stringify(level)} is not one of ${LEVELS.join(", ")}`,
    );
  }
  for (const field of ["requestReceivedTimestamp", "stageTimestamp"]) {
    const ts = requireString(event, field, where);
    if (!RFC3339.test(ts)) {
      throw new IngestError(
        "invalid_event",
        `${where}: field ${field} ${JSON.stringify(ts)} is not an RFC 3339 timestamp`,
      );
    }
  }
  for (const field of OBJECT_FIELDS) {
    if (event[field] !== undefined && event[field] !== null && !isRecord(event[field])) {
      throw new IngestError("invalid_event", `${where}: field ${field} is not an object`);
    }
  }
  for (const field of STRING_FIELDS) {
    if (event[field] !== undefined && typeof event[field] !== "string") {
      throw new IngestError("invalid_event", `${where}: field ${field} is not a string`);
    }
  }
  const ips = event.sourceIPs;
  if (
    ips !== undefined &&
    ips !== null &&
    !(Array.isArray(ips) && ips.every((ip) => typeof ip === "string"))
  ) {
    throw new IngestError("invalid_event", `${where}: field sourceIPs is not a list of strings`);
  }
  if (isRecord(event.annotations)) {
    for (const [key, value] of Object.entries(event.annotations)) {
      if (typeof value !== "string") {
        throw new IngestError("invalid_event", `${where}: annotation ${JSON.stringify(key)} is not a string`);
      }
    }
  }
}

/**
 * Makes `raw`, an object fresh from JSON.parse that the caller gives up, one v1 Event: `kind`
 * and `apiVersion` set, v1beta1-only fields dropped, every other field as received. In place:
 * a copy of every field cost as much as parsing them. Field order is left as it came, and
 * encodeEvent writes the canonical order. `listApiVersion` is the EventList's version for
 * webhook items, which carry none of their own. Throws IngestError naming `where`.
 */
export function normalizeEvent(raw: unknown, where: string, listApiVersion?: string): AuditEvent {
  if (!isRecord(raw)) {
    throw new IngestError("invalid_event", `${where}: not a JSON object`);
  }
  if (raw.kind !== undefined && raw.kind !== "Event") {
    throw new IngestError("wrong_kind", `${where}: kind ${JSON.stringify(raw.kind)} is not Event`);
  }
  const apiVersion = checkApiVersion(raw.apiVersion ?? listApiVersion, `${where}`);
  validateEvent(raw, where);
  if (apiVersion === V1BETA1) for (const field of V1BETA1_ONLY_FIELDS) delete raw[field];
  raw.kind = "Event";
  raw.apiVersion = V1;
  return raw as AuditEvent;
}

/**
 * The stored bytes of a normalised event when its bytes cannot be stored as sent (see
 * sent-bytes.ts): compact JSON, which never contains a newline byte, with `kind` and
 * `apiVersion` first and every other field in its order, as a line of the log file has them.
 */
export function encodeEvent(event: AuditEvent): Uint8Array {
  const { kind: _kind, apiVersion: _apiVersion, ...fields } = event;
  const rest = JSON.stringify(fields);
  // EVENT_TYPE_META ends with the comma before the first field; a normalised event has fields.
  return Buffer.from(EVENT_TYPE_META + rest.slice(1), "utf8");
}

/**
 * Events as received, each with the entry to store for it when the sender's bytes can be stored
 * as they are (`entries[i]` for `events[i]`; undefined, or a shorter list, where they cannot).
 */
export interface ReceivedEvents {
  events: AuditEvent[];
  entries: (Uint8Array | undefined)[];
}

/** Parses a webhook body: an EventList of either audit version. Errors name the item index. */
export function receiveEventList(body: Buffer | string): ReceivedEvents {
  // Invalid bytes would silently become U+FFFD and the stored bytes would differ from those sent.
  if (typeof body !== "string" && !isUtf8(body)) {
    throw new IngestError("bad_encoding", "body is not valid UTF-8");
  }
  const scan = typeof body === "string" ? undefined : eventListItems(body);
  const parsed = parseEventListBody(body, scan);
  if (!isRecord(parsed)) {
    throw new IngestError("not_json", "body is not a JSON object");
  }
  if (parsed.kind !== "EventList") {
    throw new IngestError("wrong_kind", `kind ${JSON.stringify(parsed.kind)} is not EventList`);
  }
  const apiVersion = checkApiVersion(parsed.apiVersion, "EventList");
  const items = parsed.items ?? [];
  if (!Array.isArray(items)) {
    throw new IngestError("invalid_event", "EventList: items is not an array");
  }
  // v1beta1 items lose fields on the way to v1, so they are always re-encoded. Which items can
  // be stored as sent is told from the items as parsed, before normalising changes them.
  const entries =
    scan === undefined || apiVersion !== V1 ? [] : itemEntries(body as Buffer, scan, parsed, items);
  const events = items.map((item, i) => normalizeEvent(item, `items[${i}]`, apiVersion));
  return { events, entries };
}

/**
 * JSON.parse of a body, item by item when the scan found them: V8 makes the string of a body
 * over 128 KB (most batches) several times more slowly per byte than the strings of its items.
 * The list with an empty `items` and each item alone are JSON exactly when the whole body is,
 * since the scan accepts nothing but whitespace and commas between the items.
 */
function parseEventListBody(body: Buffer | string, scan: EventListScan | undefined): unknown {
  try {
    if (typeof body === "string") return JSON.parse(body);
    if (scan === undefined) return JSON.parse(body.toString("utf8"));
    const around = `${body.toString("utf8", 0, scan.arrayStart)}[]${body.toString("utf8", scan.arrayEnd)}`;
    const list: unknown = JSON.parse(around);
    const items: unknown[] = scan.items.map((item, i) => {
      try {
        return JSON.parse(body.toString("utf8", item.start, item.end));
      } catch (err) {
        throw new Error(`items[${i}]: ${(err as Error).message}`);
      }
    });
    // The scan's array is the last `items`, the one JSON.parse keeps: it is [] in `around`.
    if (isRecord(list)) list.items = items;
    return list;
  } catch (err) {
    throw new IngestError("not_json", `body is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The entries of an EventList's items as sent; none when the body's layout is in any doubt. */
function itemEntries(
  body: Buffer,
  scan: EventListScan,
  list: Record<string, unknown>,
  items: unknown[],
): (Uint8Array | undefined)[] {
  // An odd body (a top-level name repeated) is re-encoded rather than stored as sent. Its
  // items were parsed from the scan's own extents, so their count is the scan's.
  if (scan.topLevelKeys !== Object.keys(list).length) return [];
  const storable = items.map((item, i) =>
    notTooDeep(`items[${i}]`, () => storableAsSent(scan.items[i]!, item as Record<string, unknown>)),
  );
  return entriesOfItems(body, scan.items, storable);
}

function notTooDeep<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw tooDeepAsBadInput(err, where);
  }
}

/** The events of an EventList body (see receiveEventList). */
export function parseEventList(body: Buffer | string): AuditEvent[] {
  return receiveEventList(body).events;
}

/**
 * Parses one line of the log backend's file (a whole Event with kind/apiVersion). With the
 * line's bytes, also gives the entry to store when those bytes can be stored as they are.
 */
export function receiveEventLine(
  line: string,
  where: string,
  bytes?: Uint8Array,
): { event: AuditEvent; entry?: Uint8Array } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new IngestError("not_json", `${where}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (isRecord(parsed) && parsed.kind === undefined) {
    throw new IngestError("wrong_kind", `${where}: kind is missing (expected Event)`);
  }
  if (isRecord(parsed) && parsed.apiVersion === undefined) {
    throw new IngestError("wrong_api_version", `${where}: apiVersion is missing`);
  }
  // Told from the line as parsed, before normalising changes it.
  const entry =
    bytes === undefined || !isRecord(parsed)
      ? undefined
      : notTooDeep(where, () => entryOfLine(bytes, parsed));
  const event = normalizeEvent(parsed, where);
  return entry === undefined ? { event } : { event, entry };
}

/** Parses one line of the log backend's file (see receiveEventLine). */
export function parseEventLine(line: string, where: string): AuditEvent {
  return receiveEventLine(line, where).event;
}
