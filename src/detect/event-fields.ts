// Resolves Sigma-style dotted field names ("objectRef.resource") against an audit event.
// Some Kubernetes keys contain dots themselves (annotation keys such as
// "authorization.k8s.io/decision"), so when a segment is missing the rest of the path is
// tried as longer keys before giving up. A path through a list (spec.containers.image) yields
// the values of every element, and a matcher then matches if any of them does.
import { isRecord } from "../json/record.js";

/** Compiles a dotted field name once into a getter; returns undefined when absent. */
export function fieldGetter(field: string): (event: unknown) => unknown {
  const parts = field.split(".");
  if (parts.length === 1) {
    return (event) => (isRecord(event) ? event[field] : undefined);
  }
  return (event) => lookup(event, parts, 0);
}

function lookup(value: unknown, parts: string[], from: number): unknown {
  if (from === parts.length) return value;
  if (Array.isArray(value)) {
    const found = value.flatMap((el) => {
      const v = lookup(el, parts, from);
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    });
    return found.length > 0 ? found : undefined;
  }
  if (!isRecord(value)) return undefined;
  // Shortest key first: the common case is plain nesting.
  let key = "";
  for (let end = from; end < parts.length; end++) {
    key = end === from ? (parts[end] as string) : `${key}.${parts[end] as string}`;
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      const found = lookup(value[key], parts, end + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
