// The bytes of each event exactly as the sender wrote them, so the log can store those instead
// of a re-encoding. That keeps the evidence as sent (Go's escaping, int64 numbers beyond 2^53,
// key order all intact) and spares a JSON.stringify per event, the largest CPU cost of ingest
// after parsing. The kube-apiserver's webhook and log backends share one JSON encoder, so an
// item of an EventList and a line of the log file differ only by the TypeMeta a line starts
// with; adding it to the item gives the line's bytes, and both paths store the same entry.
//
// These scanners run only over bytes JSON.parse has already accepted: they find where values
// start and end, not whether the JSON is valid. Any doubt returns undefined, and the caller
// falls back to encoding the parsed event.

import { IngestError } from "./errors.js";

/** Every audit.k8s.io/v1 Event as the apiserver encodes it alone (a line of its log file) begins so. */
export const EVENT_TYPE_META = '{"kind":"Event","apiVersion":"audit.k8s.io/v1",';
const TYPE_META_BYTES = Buffer.from(EVENT_TYPE_META);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** One JSON object's extent in a buffer and what the store needs to know about it. */
export interface ObjectScan {
  start: number;
  /** One past the closing brace. */
  end: number;
  /** No whitespace outside strings: the bytes are one line and need no re-encoding. */
  compact: boolean;
  /** Member names, counted at every depth: fewer parsed keys than this means a name repeats. */
  keys: number;
  /** Objects and arrays inside, itself included, strings (names included) and commas: what parsing allocates. */
  composites: number;
  strings: number;
  commas: number;
  /**
   * Where each top-level member's name starts (its opening quote), relative to `start`, in
   * order; only when asked for and the object is compact (so a name is always followed by its
   * colon and nothing a member holds lies outside [its name, the next name)).
   */
  members?: number[];
}

/** Index of the quote closing the string that opens at `i`, or -1 past the end. */
function stringEnd(b: Uint8Array, i: number): number {
  // Native search for the quote, then a look back: it closes the string unless an odd run of
  // backslashes escapes it. Most bytes of an event are inside strings, so this is the hot loop.
  let q = b.indexOf(QUOTE, i + 1);
  while (q > 0 && b[q - 1] === BACKSLASH) {
    let s = q - 1;
    while (b[s] === BACKSLASH) s--;
    if ((q - 1 - s) % 2 === 0) break;
    q = b.indexOf(QUOTE, q + 1);
  }
  return q;
}

/** What each byte means to the scanner outside strings. */
const OTHER = 0;
const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
const SPACE = 4;
const SEPARATOR = 5;
const CLASS = new Uint8Array(256);
CLASS[COMMA] = SEPARATOR;
CLASS[QUOTE] = STRING;
CLASS[LBRACE] = CLASS[LBRACKET] = OPEN;
CLASS[RBRACE] = CLASS[RBRACKET] = CLOSE;
for (const c of [0x20, 0x0a, 0x0d, 0x09]) CLASS[c] = SPACE;

/**
 * Scans the object or array that opens at `start`; undefined when it does not close. With
 * `members`, also says where the top-level member names start (see ObjectScan.members).
 */
export function scanComposite(b: Uint8Array, start: number, members?: number[]): ObjectScan | undefined {
  let depth = 0;
  let keys = 0;
  let composites = 0;
  let strings = 0;
  let commas = 0;
  let compact = true;
  for (let i = start; i < b.length; i++) {
    const kind = CLASS[b[i]!];
    if (kind === OTHER) continue;
    if (kind === STRING) {
      const open = i;
      i = stringEnd(b, i);
      if (i < 0) return undefined;
      strings++;
      if (b[i + 1] === COLON) {
        keys++;
        if (depth === 1) members?.push(open - start);
      }
    } else if (kind === OPEN) {
      depth++;
      composites++;
    } else if (kind === CLOSE) {
      if (--depth === 0) {
        const scan: ObjectScan = { start, end: i + 1, compact, keys, composites, strings, commas };
        if (members !== undefined && compact) scan.members = members;
        return scan;
      }
    } else if (kind === SEPARATOR) {
      commas++;
    } else {
      compact = false;
    }
  }
  return undefined;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && CLASS[b[i]!] === SPACE) i++;
  return i;
}

/** One past the end of the value at `i` (any JSON value), or -1. */
function valueEnd(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === LBRACE || c === LBRACKET) return scanComposite(b, i)?.end ?? -1;
  if (c === QUOTE) {
    const close = stringEnd(b, i);
    return close < 0 ? -1 : close + 1;
  }
  while (i < b.length && b[i] !== COMMA && b[i] !== RBRACE && b[i] !== RBRACKET && CLASS[b[i]!] !== SPACE)
    i++;
  return i;
}

const ITEMS = Buffer.from('"items"');

/** Where an EventList body's items lie: each item, and the `items` array around them. */
export interface EventListScan {
  items: ObjectScan[];
  /** The array's opening bracket, and one past its closing one. */
  arrayStart: number;
  arrayEnd: number;
  /** Names at the top level of the body, repeats included. */
  topLevelKeys: number;
  /** Objects, arrays, strings, member names and commas in the whole body (see ObjectScan). */
  composites: number;
  strings: number;
  keys: number;
  commas: number;
}

/** More items than the caller allows: the scan stopped there. */
export class TooManyItems extends IngestError {
  constructor(readonly limit: number) {
    super("too_large", `more than ${limit} items`);
  }
}

/**
 * The extents of the elements of the top-level `items` array of an EventList body. Undefined
 * when they cannot be told apart for certain (an element that is not an object, a name
 * written with escapes) or what lies between them is not exactly JSON's (a trailing comma).
 * Throws TooManyItems as soon as the array has more than `maxItems` elements, so a body of
 * millions of tiny items costs no more than the limit's worth.
 */
export function eventListItems(body: Uint8Array, maxItems = Infinity): EventListScan | undefined {
  let i = skipSpace(body, 0);
  if (body[i] !== LBRACE) return undefined;
  let scan: EventListScan | undefined;
  let topLevelKeys = 0;
  let composites = 1;
  let strings = 0;
  let keys = 0;
  let commas = 0;
  for (i = skipSpace(body, i + 1); body[i] !== RBRACE;) {
    if (body[i] !== QUOTE) return undefined;
    const close = stringEnd(body, i);
    if (close < 0) return undefined;
    const name = body.subarray(i, close + 1);
    // An escaped name may spell "items" for JSON.parse while these bytes do not.
    if (name.includes(BACKSLASH)) return undefined;
    topLevelKeys++;
    strings++;
    keys++;
    i = skipSpace(body, close + 1);
    if (body[i] !== COLON) return undefined;
    i = skipSpace(body, i + 1);
    const isItems = Buffer.compare(name, ITEMS) === 0;
    // An `items` that is not an array may be the one JSON.parse keeps (the last): no extents.
    if (isItems && body[i] !== LBRACKET) return undefined;
    if (isItems) {
      // A repeated name: JSON.parse keeps the last, and so does this.
      const items: ObjectScan[] = [];
      const arrayStart = i;
      for (i = skipSpace(body, i + 1); body[i] !== RBRACKET;) {
        if (body[i] !== LBRACE) return undefined;
        const item = scanComposite(body, i, []);
        if (item === undefined) return undefined;
        if (items.length === maxItems) throw new TooManyItems(maxItems);
        items.push(item);
        composites += item.composites;
        strings += item.strings;
        keys += item.keys;
        commas += item.commas + 1;
        i = skipSpace(body, item.end);
        if (body[i] === COMMA) {
          i = skipSpace(body, i + 1);
          if (body[i] !== LBRACE) return undefined;
        } else if (body[i] !== RBRACKET) return undefined;
      }
      i++;
      composites++;
      scan = {
        items,
        arrayStart,
        arrayEnd: i,
        topLevelKeys: 0,
        composites: 0,
        strings: 0,
        keys: 0,
        commas: 0,
      };
    } else if (body[i] === LBRACE || body[i] === LBRACKET) {
      const value = scanComposite(body, i);
      if (value === undefined) return undefined;
      composites += value.composites;
      strings += value.strings;
      keys += value.keys;
      commas += value.commas;
      i = value.end;
    } else {
      if (body[i] === QUOTE) strings++;
      i = valueEnd(body, i);
      if (i < 0) return undefined;
    }
    i = skipSpace(body, i);
    if (body[i] === COMMA) {
      commas++;
      i = skipSpace(body, i + 1);
    } else if (body[i] !== RBRACE) return undefined;
  }
  return scan === undefined ? undefined : { ...scan, topLevelKeys, composites, strings, keys, commas };
}

/** Member names in a parsed JSON value, at every depth (the count `ObjectScan.keys` makes of its bytes). */
export function countKeys(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const v of value) n += countKeys(v);
    return n;
  }
  for (const k in value) n += 1 + countKeys((value as Record<string, unknown>)[k]);
  return n;
}

/**
 * Whether an EventList item needs no re-encoding: its bytes with the TypeMeta a log-file line
 * starts with are exactly that line (see entriesOfItems). `parsed` is the item as JSON.parse
 * read it; a repeated name anywhere (bytes with more names than the parsed value) would let the
 * stored bytes say something else than what was indexed, so such an item is re-encoded.
 */
export function storableAsSent(item: ObjectScan, parsed: Record<string, unknown>): boolean {
  if (!item.compact || item.end - item.start <= 2) return false;
  if (Object.hasOwn(parsed, "kind") || Object.hasOwn(parsed, "apiVersion")) return false;
  return countKeys(parsed) === item.keys;
}

/**
 * The entries of the items `storable` marks (see storableAsSent), undefined for the others.
 * They lie end to end in one new buffer of their own, in order, so a batch of them crosses
 * from a worker without another copy (see packBatch).
 */
export function entriesOfItems(
  body: Uint8Array,
  items: readonly ObjectScan[],
  storable: readonly boolean[],
): (Uint8Array | undefined)[] {
  // Each entry is the TypeMeta, then the item without its opening brace.
  const length = (item: ObjectScan) => TYPE_META_BYTES.length + item.end - item.start - 1;
  let total = 0;
  items.forEach((item, i) => (total += storable[i] ? length(item) : 0));
  const all = Buffer.allocUnsafeSlow(total);
  let at = 0;
  return items.map((item, i) => {
    if (!storable[i]) return undefined;
    const entry = all.subarray(at, (at += length(item)));
    entry.set(TYPE_META_BYTES, 0);
    entry.set(body.subarray(item.start + 1, item.end), TYPE_META_BYTES.length);
    return entry;
  });
}

/** The entry for a log-file line that needs no re-encoding: the line itself (see storableAsSent). */
export function entryOfLine(line: Uint8Array, parsed: Record<string, unknown>): Uint8Array | undefined {
  if (line.length <= TYPE_META_BYTES.length) return undefined;
  if (Buffer.compare(line.subarray(0, TYPE_META_BYTES.length), TYPE_META_BYTES) !== 0) return undefined;
  const scan = scanComposite(line, 0);
  if (scan === undefined || !scan.compact || scan.end !== line.length) return undefined;
  if (countKeys(parsed) !== scan.keys) return undefined;
  return line;
}
