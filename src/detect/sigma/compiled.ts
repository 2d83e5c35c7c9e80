// A compiled piece of a Sigma rule: its predicate plus, when the logic forces it, the only
// objectRef.resource and verb values it can match. The engine uses those sets to skip rules
// that cannot fire for an event; they are an optimisation that never changes what matches.
import type { EventPredicate } from "./value-matcher.js";

export interface Compiled {
  match: EventPredicate;
  /** Lower-case resources; undefined when the piece can match any resource. */
  resources?: ReadonlySet<string>;
  /** Lower-case verbs; undefined when the piece can match any verb. */
  verbs?: ReadonlySet<string>;
}

type Bound = "resources" | "verbs";

export function allOf(items: Compiled[]): Compiled {
  if (items.length === 1) return items[0] as Compiled;
  const preds = items.map((i) => i.match);
  return {
    // A plain loop: `every` with a closure would allocate per event.
    match: (e) => {
      for (const p of preds) if (!p(e)) return false;
      return true;
    },
    resources: intersection(items, "resources"),
    verbs: intersection(items, "verbs"),
  };
}

export function anyOf(items: Compiled[]): Compiled {
  if (items.length === 1) return items[0] as Compiled;
  const preds = items.map((i) => i.match);
  return {
    match: (e) => {
      for (const p of preds) if (p(e)) return true;
      return false;
    },
    resources: union(items, "resources"),
    verbs: union(items, "verbs"),
  };
}

export function negate(item: Compiled): Compiled {
  const p = item.match;
  return { match: (e) => !p(e) };
}

/** Every item must match, so only values all bounded items allow can. */
function intersection(items: Compiled[], bound: Bound): ReadonlySet<string> | undefined {
  let out: Set<string> | undefined;
  for (const i of items) {
    const allowed = i[bound];
    if (!allowed) continue;
    out = out ? new Set([...out].filter((v) => allowed.has(v))) : new Set(allowed);
  }
  return out;
}

/** Any item may match, so the piece is bounded only if every item is. */
function union(items: Compiled[], bound: Bound): ReadonlySet<string> | undefined {
  const sets = items.map((i) => i[bound]);
  if (!sets.every((s) => s !== undefined)) return undefined;
  return new Set(sets.flatMap((s) => [...(s as ReadonlySet<string>)]));
}
