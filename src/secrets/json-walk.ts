// Walking a parsed JSON value to every string in it, with the name that string is stored under
// (the context a credential-like name gives): an object's key; for `{name, value}` pairs
// (container env, Helm-style parameters; `name` right before `value`) the pair's `name`; for a
// string after a command-line flag in a list (`["--token", "…"]`) the flag; inside any other
// list, the list's own key.
import { setOwnField } from "../json/own-field.js";
import { isRecord } from "../json/record.js";

/** Where a string sits in the walked value, built only when asked for (see pathOf). */
export interface PathNode {
  parent: PathNode | undefined;
  segment: string | number;
}

/**
 * The path from the root to `segment` inside `parent`, e.g. ["spec", "containers", 0, "env",
 * 2, "value"] (without `segment`: to `parent` itself).
 */
export function pathOf(parent: PathNode | undefined, segment?: string | number): (string | number)[] {
  const out: (string | number)[] = segment === undefined ? [] : [segment];
  for (let n = parent; n !== undefined; n = n.parent) out.push(n.segment);
  return out.reverse();
}

/**
 * Told about each string, with where it is (`segment` inside `parent`: a path is built only for
 * the few strings that need one, see pathOf); returns its replacement, or undefined to keep it.
 */
export type StringVisitor = (
  value: string,
  key: string | undefined,
  parent: PathNode | undefined,
  segment: string | number | undefined,
) => string | undefined;

const FLAG = /^--?[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Visits every string in `value` (object keys excepted) with its context name, and returns
 * `value` with the replacements the visitor made: untouched subtrees are shared, the input is
 * never modified, and `value` itself comes back when nothing was replaced. A value too deeply
 * nested throws RangeError.
 */
export function mapStrings(value: unknown, visit: StringVisitor, key?: string): unknown {
  return mapAt(value, visit, key, undefined, undefined);
}

function mapAt(
  value: unknown,
  visit: StringVisitor,
  key: string | undefined,
  parent: PathNode | undefined,
  segment: string | number | undefined,
): unknown {
  if (typeof value === "string") return visit(value, key, parent, segment) ?? value;
  if (typeof value !== "object" || value === null) return value;
  const at = segment === undefined ? parent : { parent, segment };
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const prev = i > 0 ? value[i - 1] : undefined;
      const itemKey = typeof prev === "string" && FLAG.test(prev) ? prev : key;
      const item = value[i];
      const next = mapAt(item, visit, itemKey, at, i);
      if (next !== item) (copy ??= [...value])[i] = next;
    }
    return copy ?? value;
  }
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  // A pair is `name` right before `value`, as Kubernetes writes env vars.
  const pairName =
    typeof value.name === "string" &&
    typeof value.value === "string" &&
    keys.indexOf("value") === keys.indexOf("name") + 1
      ? value.name
      : undefined;
  let copy: Record<string, unknown> | undefined;
  for (const k of keys) {
    const child = value[k];
    const childKey = k === "value" && pairName !== undefined ? pairName : k;
    const next = mapAt(child, visit, childKey, at, k);
    if (next !== child) {
      if (copy === undefined) {
        copy = {};
        for (const kk of keys) setOwnField(copy, kk, value[kk]);
      }
      setOwnField(copy, k, next);
    }
  }
  return copy ?? value;
}
