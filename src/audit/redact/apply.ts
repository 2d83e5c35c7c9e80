// Applies compiled redaction paths to request/response documents, copy-on-write: the input
// is never modified, untouched subtrees are shared, and every masked location is reported.
import {
  formatJsonPath,
  parseJsonPointer,
  WILDCARD,
  type PathSegment,
  type PatternSegment,
} from "./json-path.js";
import { KIND_PATHS, type CompiledPath } from "./rules.js";
import { tagValue, type ValueEncoding } from "./tag.js";
import { isRecord } from "../../json/record.js";

/** Collects the masked paths of one event while its documents are redacted. */
export interface RedactionSink {
  key: Uint8Array;
  paths: string[];
  /** Tags made for this event (created on the first): when two rules select the same value, it is masked once. */
  produced?: Set<string>;
}

type Json = Record<string, unknown>;

function mask(value: unknown, encoding: ValueEncoding, at: PathSegment[], sink: RedactionSink): unknown {
  if (typeof value === "string" && sink.produced?.has(value)) return value;
  const tag = tagValue(sink.key, value, encoding);
  (sink.produced ??= new Set()).add(tag);
  sink.paths.push(formatJsonPath(at));
  return tag;
}

/** Masks what `pattern[i…]` selects inside `value`; returns `value` itself when nothing matched. */
export function redactPattern(
  value: unknown,
  pattern: readonly PatternSegment[],
  i: number,
  encoding: ValueEncoding,
  at: PathSegment[],
  sink: RedactionSink,
): unknown {
  // null is how merge patches delete a key: there is no value to hide.
  if (value === null || value === undefined) return value;
  if (i === pattern.length) return mask(value, encoding, at, sink);
  const seg = pattern[i]!;
  if (Array.isArray(value)) {
    if (typeof seg === "string") return value;
    let copy: unknown[] | undefined;
    const indices = seg === WILDCARD ? value.keys() : [seg][Symbol.iterator]();
    for (const k of indices) {
      if (k >= value.length) continue;
      const next = redactPattern(value[k], pattern, i + 1, encoding, [...at, k], sink);
      if (next !== value[k]) (copy ??= [...value])[k] = next;
    }
    return copy ?? value;
  }
  if (isRecord(value)) {
    if (typeof seg === "number") return value;
    let copy: Json | undefined;
    // Keys starting with "$" are strategic-merge-patch directives, never data. Names match
    // regardless of case: older apiservers decoded JSON fields case-insensitively, so a
    // patch with "Data" would have written `data`.
    const keys =
      seg === WILDCARD
        ? Object.keys(value).filter((k) => !k.startsWith("$"))
        : Object.keys(value).filter((k) => k === seg || k.toLowerCase() === seg.toLowerCase());
    for (const k of keys) {
      const next = redactPattern(value[k], pattern, i + 1, encoding, [...at, k], sink);
      if (next !== value[k]) (copy ??= { ...value })[k] = next;
    }
    return copy ?? value;
  }
  // A scalar where a map or list of secrets belongs (a malformed patch): mask it whole
  // rather than let it through.
  return seg === WILDCARD ? mask(value, encoding, at, sink) : value;
}

/** Applies the paths for the request's resource plus those its `kind` calls for. */
function redactObject(
  node: unknown,
  paths: readonly CompiledPath[],
  at: PathSegment[],
  sink: RedactionSink,
): unknown {
  if (!isRecord(node)) return node;
  const byKind = typeof node.kind === "string" ? KIND_PATHS.get(node.kind) : undefined;
  let out: unknown = node;
  // The kind's own paths first: they know the encoding (a Secret's data is base64), and a
  // value masked once is not masked again by a broader operator rule.
  for (const p of byKind ?? []) out = redactPattern(out, p.pattern, 0, p.encoding, at, sink);
  for (const p of paths) {
    if (!byKind?.includes(p)) out = redactPattern(out, p.pattern, 0, p.encoding, at, sink);
  }
  return out;
}

function prefixMatches(pattern: readonly PatternSegment[], pointer: readonly string[]): boolean {
  for (let j = 0; j < pointer.length; j++) {
    const seg = pattern[j]!;
    if (seg !== WILDCARD && String(seg).toLowerCase() !== pointer[j]!.toLowerCase()) return false;
  }
  return true;
}

/**
 * JSON patch (RFC 6902) bodies, as the apiserver records them for verb "patch": an op
 * whose path leads to a protected field has the protected part of its value masked, an op
 * inside a protected field has its whole value masked, and an op with an unreadable path
 * has its value masked too.
 */
function redactJsonPatch(
  ops: unknown[],
  paths: readonly CompiledPath[],
  at: PathSegment[],
  sink: RedactionSink,
): unknown[] {
  let copy: unknown[] | undefined;
  ops.forEach((op, k) => {
    if (!isRecord(op) || !Object.hasOwn(op, "value")) return;
    const valueAt = [...at, k, "value"];
    const pointer = typeof op.path === "string" ? parseJsonPointer(op.path) : undefined;
    let value = op.value;
    if (pointer === undefined) value = redactPattern(value, [], 0, "text", valueAt, sink);
    else {
      for (const p of paths) {
        if (pointer.length <= p.pattern.length) {
          if (prefixMatches(p.pattern, pointer))
            value = redactPattern(value, p.pattern, pointer.length, p.encoding, valueAt, sink);
        } else if (prefixMatches([...p.pattern], pointer.slice(0, p.pattern.length))) {
          value = redactPattern(value, [], 0, "text", valueAt, sink);
        }
      }
    }
    if (value !== op.value) (copy ??= [...ops])[k] = { ...op, value };
  });
  return copy ?? ops;
}

/**
 * Redacts one requestObject/responseObject. `paths` are the rules for the request's
 * resource (empty for most requests); objects are also recognised by kind, including the
 * items of lists and the objects inside Table rows (`kubectl get` output).
 */
export function redactDocument(
  doc: unknown,
  paths: readonly CompiledPath[],
  at: PathSegment[],
  sink: RedactionSink,
): unknown {
  if (Array.isArray(doc)) return paths.length > 0 ? redactJsonPatch(doc, paths, at, sink) : doc;
  if (typeof doc === "string") {
    // A body the apiserver could only record raw (e.g. a YAML apply patch): mask it whole.
    return paths.length > 0 ? mask(doc, "text", at, sink) : doc;
  }
  if (!isRecord(doc)) return doc;
  let out = redactObject(doc, paths, at, sink) as Json;
  const items = out.items;
  if (Array.isArray(items)) {
    const next = mapChanged(items, (item, k) =>
      needsWork(item, paths) ? redactObject(item, paths, [...at, "items", k], sink) : item,
    );
    if (next !== items) out = { ...out, items: next };
  }
  const rows = out.rows;
  if (Array.isArray(rows)) {
    const next = mapChanged(rows, (row, k) => {
      if (!isRecord(row) || !needsWork(row.object, paths)) return row;
      const obj = redactObject(row.object, paths, [...at, "rows", k, "object"], sink);
      return obj === row.object ? row : { ...row, object: obj };
    });
    if (next !== rows) out = { ...out, rows: next };
  }
  return out;
}

/** Cheap pre-check so the items of ordinary lists cost no allocation. */
function needsWork(node: unknown, paths: readonly CompiledPath[]): boolean {
  return isRecord(node) && (paths.length > 0 || (typeof node.kind === "string" && KIND_PATHS.has(node.kind)));
}

function mapChanged<T>(list: T[], fn: (item: T, k: number) => T): T[] {
  let copy: T[] | undefined;
  list.forEach((item, k) => {
    const next = fn(item, k);
    if (next !== item) (copy ??= [...list])[k] = next;
  });
  return copy ?? list;
}
