// Field-level differences between two recorded request bodies, for `kubetrail history`.
// Objects are flattened to leaf paths; arrays by position (the apiserver keeps list order).

export interface FieldChange {
  path: string;
  op: "add" | "remove" | "change";
  /** JSON text of the old and new values. */
  from?: string;
  to?: string;
}

/** Fields every update churns without anyone having changed them. */
const NOISE = new Set([
  "metadata.resourceVersion",
  "metadata.generation",
  "metadata.managedFields",
  "status",
]);

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function childPath(parent: string, key: string): string {
  if (PLAIN_KEY.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Leaf path → JSON text; empty objects and arrays are leaves so their appearance shows. */
export function flatten(value: unknown, path = "", out = new Map<string, string>()): Map<string, string> {
  if (NOISE.has(path)) return out;
  if (Array.isArray(value) && value.length > 0) {
    value.forEach((v, i) => flatten(v, `${path}[${i}]`, out));
  } else if (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0
  ) {
    for (const [k, v] of Object.entries(value)) flatten(v, childPath(path, k), out);
  } else {
    out.set(path, JSON.stringify(value));
  }
  return out;
}

/** What changed from `before` to `after`, in path order. `before` undefined: everything is added. */
export function diffBodies(before: unknown, after: unknown): FieldChange[] {
  const a = before === undefined ? new Map<string, string>() : flatten(before);
  const b = flatten(after);
  const changes: FieldChange[] = [];
  for (const [path, to] of b) {
    const from = a.get(path);
    if (from === undefined) changes.push({ path, op: "add", to });
    else if (from !== to) changes.push({ path, op: "change", from, to });
  }
  for (const [path, from] of a) if (!b.has(path)) changes.push({ path, op: "remove", from });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/** One line per change: `+ path: value`, `- path: value`, `~ path: old → new`. */
export function formatChange(c: FieldChange): string {
  switch (c.op) {
    case "add":
      return `+ ${c.path}: ${c.to}`;
    case "remove":
      return `- ${c.path}: ${c.from}`;
    case "change":
      return `~ ${c.path}: ${c.from} → ${c.to}`;
  }
}
