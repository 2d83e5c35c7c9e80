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
  TooManyItems,
  type EventListScan,
} from "./sent-bytes.js";
import { rfc3339Problem } from "./timestamp.js";
import { isRecord } from "../json/record.js";

export const V1 = "audit.k8s.io/v1";
const V1BETA1 = "audit.k8s.io/v1beta1";

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
    throw new IngestError("invalid_event", `${where}: field ${field} is missing or not a non-empty string`, {
      field,
    });
  }
  return value;
}

const invalid = (where: string, field: string, what: string): IngestError =>
  new IngestError("invalid_event", `${where}: field ${field} ${what}`, { field });

/** Checks the fields kubetrail relies on (dedupe key, time order, level); everything else is kept as sent. */
function validateEvent(event: Record<string, unknown>, where: string): void {
  requireString(event, "auditID", where);
  const stage = requireString(event, "stage", where);
  if (!(STAGES as readonly string[]).includes(stage))
    throw invalid(where, "stage", `${JSON.stringify(stage)} is not one of ${STAGES.join(", ")}`);
  const level = requireString(event, "level", where);
  if (!(LEVELS as readonly string[]).includes(level))
    throw invalid(where, "level", `${JSON.stringify(level)} is not one of ${LEVELS.join(", ")}`);
  for (const field of ["requestReceivedTimestamp", "stageTimestamp"]) {
    const ts = requireString(event, field, where);
    const problem = rfc3339Problem(ts);
    if (problem !== undefined)
      throw invalid(where, field, `${JSON.stringify(ts)} is not an RFC 3339 timestamp: ${problem}`);
  }
  for (const field of OBJECT_FIELDS) {
    if (event[field] !== undefined && event[field] !== null && !isRecord(event[field]))
      throw invalid(where, field, "is not an object");
  }
  for (const field of STRING_FIELDS) {
    if (event[field] !== undefined && typeof event[field] !== "string")
      throw invalid(where, field, "is not a string");
  }
  const ips = event.sourceIPs;
  if (
    ips !== undefined &&
    ips !== null &&
    !(Array.isArray(ips) && ips.every((ip) => typeof ip === "string"))
  ) {
    throw invalid(where, "sourceIPs", "is not a list of strings");
  }
  if (isRecord(event.annotations)) {
    for (const [key, value] of Object.entries(event.annotations)) {
      if (typeof value !== "string") {
        throw new IngestError(
          "invalid_event",
          `${where}: annotation ${JSON.stringify(key)} is not a string`,
          { field: "annotations" },
        );
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
  /** events[i]'s JSON as received (for the credential pre-filter); undefined where unknown. */
  raws?: (ReceivedJson | undefined)[];
  /** events[i]'s position in the EventList's items. */
  indexes?: number[];
  /** Items refused one by one; the others are stored (see quarantine.ts). */
  rejected?: RejectedItem[];
  /** How many items the list had. */
  items?: number;
}

/** An event's JSON as received, and where its top-level member names lie in it (ObjectScan.members). */
export interface ReceivedJson {
  bytes: Uint8Array;
  members?: readonly number[];
}

/** An item of an EventList that is not a valid audit event. */
export interface RejectedItem {
  index: number;
  error: IngestError;
  /** The item's JSON as sent (its bytes in the body), or as parsed and encoded again. */
  bytes: Uint8Array;
  /** The item as parsed. */
  value: unknown;
}

/** What one body may cost: refused (413) beyond, or deferred (429) while others use the memory. */
export interface ParseLimits {
  /** Most items in one EventList. */
  maxItems: number;
  /** Most memory parsing one body may take, as estimated from its structure (parseCost). */
  maxParseBytes: number;
  /**
   * Reserves `bytes` of the memory shared by every body being parsed, and returns the function
   * that gives them back; throws IngestBusyError when there is no room now.
   */
  reserve?: (bytes: number) => () => void;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxItems: 10_000, maxParseBytes: 256 * 1024 * 1024 };

/** What a JSON text holds that parsing it allocates memory for (see sent-bytes.ts's scans). */
export interface JsonShape {
  /** Objects and arrays. */
  composites: number;
  /** Strings, member names included, and member names alone. */
  strings: number;
  keys: number;
  /** About one per member or element. */
  commas: number;
}

/**
 * Memory JSON.parse takes for a text of this shape, over-estimated (measured on V8 11): about
 * 64 bytes for an empty object and 40 for an empty array, a slot (and for a number that is not
 * small, a box) per member or element, a header per string, a hidden class for each new member
 * name, and a copy of the text (the item strings parsed).
 */
export function parseCost(bytes: number, s: JsonShape): number {
  return 2 * bytes + 64 * s.composites + 24 * s.strings + 64 * s.keys + 16 * s.commas;
}

/** parseCost of a body the scan could not lay out: every brace, bracket, quote and comma counted. */
function roughParseCost(body: Buffer): number {
  let composites = 0;
  let quotes = 0;
  let commas = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === 0x7b || c === 0x5b) composites++;
    else if (c === 0x22) quotes++;
    else if (c === 0x2c) commas++;
  }
  // Every string may be a member name, and each a new one.
  return parseCost(body.length, { composites, strings: quotes / 2, keys: quotes / 2, commas });
}

const MiB = 1024 * 1024;

/**
 * Parses a webhook body: an EventList of either audit version. A body that is not an EventList
 * (not JSON, another kind or version, items not a list, more items than allowed, too costly to
 * parse) throws IngestError; an item that is not a valid event is returned in `rejected` (its
 * error names the item and field) and the other items are returned as events.
 */
export function receiveEventList(
  body: Buffer | string,
  limits: ParseLimits = DEFAULT_PARSE_LIMITS,
): ReceivedEvents {
  // Invalid bytes would silently become U+FFFD and the stored bytes would differ from those sent.
  if (typeof body !== "string" && !isUtf8(body)) {
    throw new IngestError("bad_encoding", "body is not valid UTF-8");
  }
  const tooMany = (): IngestError =>
    new IngestError(
      "too_large",
      `EventList has more than ${limits.maxItems} items, the limit for one request`,
    );
  let scan: EventListScan | undefined;
  try {
    scan = typeof body === "string" ? undefined : eventListItems(body, limits.maxItems);
  } catch (err) {
    if (err instanceof TooManyItems) throw tooMany();
    throw err;
  }
  // One event may cost half of what a request may: every consumer of the log parses it again.
  const eventCap = limits.maxParseBytes / 2;
  const costly = new Map<number, number>();
  let cost = 0;
  if (typeof body !== "string" && scan === undefined) cost = roughParseCost(body);
  else if (scan !== undefined) {
    // What lies outside the items: the whole body's counts less the items' (no copy per item).
    const outside = {
      composites: scan.composites,
      strings: scan.strings,
      keys: scan.keys,
      commas: scan.commas,
    };
    let outsideBytes = body.length;
    for (let i = 0; i < scan.items.length; i++) {
      const item = scan.items[i]!;
      outsideBytes -= item.end - item.start;
      outside.composites -= item.composites;
      outside.strings -= item.strings;
      outside.keys -= item.keys;
      outside.commas -= item.commas;
      const itemCost = parseCost(item.end - item.start, item);
      if (itemCost > eventCap) costly.set(i, itemCost);
      else cost += itemCost;
    }
    const listCost = parseCost(outsideBytes, outside);
    if (listCost > eventCap) {
      throw new IngestError(
        "too_large",
        `parsing the EventList's fields other than items would take about ${mib(listCost)} MiB, over the limit of ${mib(eventCap)} MiB`,
      );
    }
    cost += listCost;
  }
  if (cost > limits.maxParseBytes) {
    throw new IngestError(
      "too_large",
      `parsing this body would take about ${mib(cost)} MiB, over the limit of ${mib(limits.maxParseBytes)} MiB for one request`,
    );
  }
  const release = cost > 0 ? limits.reserve?.(cost) : undefined;
  try {
    return receiveParsed(body, scan, limits, tooMany, costly, eventCap);
  } finally {
    release?.();
  }
}

const mib = (bytes: number): number => Math.ceil(bytes / MiB);

function receiveParsed(
  body: Buffer | string,
  scan: EventListScan | undefined,
  limits: ParseLimits,
  tooMany: () => IngestError,
  costly: ReadonlyMap<number, number>,
  eventCap: number,
): ReceivedEvents {
  const parsed = parseEventListBody(body, scan, costly);
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
  if (items.length > limits.maxItems) throw tooMany();
  const rejected: RejectedItem[] = [];
  const rejectedAt = new Set<number>();
  const reject = (index: number, error: IngestError): void => {
    rejectedAt.add(index);
    const item = scan?.items[index];
    const bytes =
      item !== undefined && typeof body !== "string"
        ? body.subarray(item.start, item.end)
        : Buffer.from(encodedAgain(items[index]), "utf8");
    rejected.push({ index, error, bytes, value: items[index] });
  };
  // Items too costly to parse were not: they are refused by size, whatever they hold.
  for (const [i, itemCost] of costly) {
    reject(
      i,
      new IngestError(
        "too_large",
        `items[${i}]: parsing this event would take about ${mib(itemCost)} MiB, over the limit of ${mib(eventCap)} MiB for one event`,
      ),
    );
  }
  // v1beta1 items lose fields on the way to v1, so they are always re-encoded. Which items can
  // be stored as sent is told from the items as parsed, before normalising changes them.
  const storable =
    scan === undefined || apiVersion !== V1 ? undefined : itemStorable(scan, parsed, items, reject);
  const events: AuditEvent[] = [];
  const indexes: number[] = [];
  items.forEach((item, i) => {
    if (rejectedAt.has(i)) return;
    try {
      events.push(normalizeEvent(item, `items[${i}]`, apiVersion));
      indexes.push(i);
    } catch (err) {
      if (!(err instanceof IngestError)) throw err;
      if (storable !== undefined) storable[i] = false;
      reject(i, err);
    }
  });
  rejected.sort((a, b) => a.index - b.index);
  const all = storable === undefined ? [] : entriesOfItems(body as Buffer, scan!.items, storable);
  const entries = storable === undefined ? [] : indexes.map((i) => all[i]);
  const raws =
    scan === undefined || typeof body === "string"
      ? undefined
      : indexes.map((i) => {
          const item = scan.items[i]!;
          return { bytes: body.subarray(item.start, item.end), members: item.members };
        });
  return { events, entries, raws, indexes, rejected, items: items.length };
}

/** An item JSON.parse gave, as JSON again (for a rejected item whose bytes the scan did not locate). */
function encodedAgain(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    // Too deeply nested to encode: what is recorded is that such an item came.
    return '"(too deeply nested to encode)"';
  }
}

/**
 * JSON.parse of a body, item by item when the scan found them: V8 makes the string of a body
 * over 128 KB (most batches) several times more slowly per byte than the strings of its items.
 * The list with an empty `items` and each item alone are JSON exactly when the whole body is,
 * since the scan accepts nothing but whitespace and commas between the items.
 */
function parseEventListBody(
  body: Buffer | string,
  scan: EventListScan | undefined,
  skip: ReadonlyMap<number, unknown>,
): unknown {
  try {
    if (typeof body === "string") return JSON.parse(body);
    if (scan === undefined) return JSON.parse(body.toString("utf8"));
    const around = `${body.toString("utf8", 0, scan.arrayStart)}[]${body.toString("utf8", scan.arrayEnd)}`;
    const list: unknown = JSON.parse(around);
    const items: unknown[] = scan.items.map((item, i) => {
      if (skip.has(i)) return undefined;
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

/**
 * Which items can be stored as sent (see storableAsSent); none when the body's layout is in any
 * doubt. An item too deeply nested to look at is rejected through `reject`.
 */
function itemStorable(
  scan: EventListScan,
  list: Record<string, unknown>,
  items: unknown[],
  reject: (index: number, error: IngestError) => void,
): boolean[] | undefined {
  // An odd body (a top-level name repeated) is re-encoded rather than stored as sent. Its
  // items were parsed from the scan's own extents, so their count is the scan's.
  if (scan.topLevelKeys !== Object.keys(list).length) return undefined;
  return items.map((item, i) => {
    if (item === undefined) return false; // not parsed: too costly
    try {
      return notTooDeep(`items[${i}]`, () => isRecord(item) && storableAsSent(scan.items[i]!, item));
    } catch (err) {
      if (!(err instanceof IngestError)) throw err;
      reject(i, err);
      return false;
    }
  });
}

function notTooDeep<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw tooDeepAsBadInput(err, where);
  }
}

/** The events of an EventList body (see receiveEventList); the first rejected item is thrown. */
export function parseEventList(body: Buffer | string): AuditEvent[] {
  const received = receiveEventList(body);
  const [first] = received.rejected ?? [];
  if (first !== undefined) throw first.error;
  return received.events;
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
