// A compiled piece of a Sigma rule: its predicate plus, when the logic forces it, the only
// objectRef.resource values it can match. The engine uses that set to skip rules that cannot
// fire for an event; it is an optimisation that never changes what matches.
import type { EventPredicate } from "./value-matcher.js";

export interface Compiled {
  match: EventPredicate;
  /** Lower-case resources; undefined when the piece can match any resource. */
  resources?: ReadonlySet<string>;
}

export function allOf(items: Compiled[]): Compiled {
  if (items.length === 1) return items[0] as Compiled;
  const preds = items.map((i) => i.match);
  let resources: Set<string> | undefined;
  for (const i of items) {
    if (!i.resources) continue;
    resources = resources ? new Set([...resources].filter((r) => i.resources?.has(r))) : new Set(i.resources);
  }
  return { match: (e) => preds.every((p) => p(e)), resources };
}

export function anyOf(items: Compiled[]): Compiled {
  if (items.length === 1) return items[0] as Compiled;
  const preds = items.map((i) => i.match);
  const bounded = items.every((i) => i.resources);
  const resources = bounded
    ? new Set(items.flatMap((i) => [...(i.resources as ReadonlySet<string>)]))
    : undefined;
  return { match: (e) => preds.some((p) => p(e)), resources };
}

export function negate(item: Compiled): Compiled {
  const p = item.match;
  return { match: (e) => !p(e) };
}
