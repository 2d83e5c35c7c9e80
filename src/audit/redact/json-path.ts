// The small JSON path language of redaction rules and of the `kubetrail.dev/redacted`
// annotation: `data.password`, `data["tls.crt"]`, `items[0].data.*`, `spec.containers[*].env[*].value`.
// A leading `$.` is accepted. `*` (or `[*]`) matches every key of an object or element of a list.
import { AuditError } from "../errors.js";

export type PathSegment = string | number;
export const WILDCARD: unique symbol = Symbol("*");
export type PatternSegment = PathSegment | typeof WILDCARD;

export class JsonPathError extends AuditError<"bad-path"> {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super("bad-path", `invalid JSON path ${JSON.stringify(path)}: ${message}`);
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Parses a rule path into segments; throws JsonPathError naming the position. */
export function parseJsonPath(text: string): PatternSegment[] {
  let s = text.trim();
  if (s.startsWith("$")) s = s.slice(1);
  if (s.startsWith(".")) s = s.slice(1);
  const out: PatternSegment[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === "[") {
      const close = findClose(s, i, text);
      const inner = s.slice(i + 1, close).trim();
      if (inner === "*") out.push(WILDCARD);
      else if (/^\d+$/.test(inner)) out.push(Number(inner));
      else if (inner.startsWith('"')) {
        try {
          out.push(JSON.parse(inner) as string);
        } catch {
          throw new JsonPathError(text, `bad quoted key at ${i}`);
        }
      } else throw new JsonPathError(text, `expected *, an index or a "quoted key" inside [] at ${i}`);
      i = close + 1;
      if (s[i] === ".") i++;
      continue;
    }
    let end = i;
    while (end < s.length && s[end] !== "." && s[end] !== "[") end++;
    const name = s.slice(i, end);
    if (name === "") throw new JsonPathError(text, `empty segment at ${i}`);
    out.push(name === "*" ? WILDCARD : name);
    i = end;
    if (s[i] === ".") {
      i++;
      if (i === s.length) throw new JsonPathError(text, "ends with '.'");
    }
  }
  if (out.length === 0) throw new JsonPathError(text, "empty path");
  return out;
}

function findClose(s: string, open: number, text: string): number {
  let inString = false;
  for (let j = open + 1; j < s.length; j++) {
    const c = s[j];
    if (inString) {
      if (c === "\\") j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "]") return j;
  }
  throw new JsonPathError(text, `unclosed [ at ${open}`);
}

/**
 * Formats a concrete path. Commas are escaped inside quoted keys so the annotation can
 * stay a comma-separated list.
 */
export function formatJsonPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg).replaceAll(",", "\\u002c")}]`;
  }
  return out;
}

/** RFC 6901 JSON Pointer → segments (array indices stay strings; "-" is the append position). */
export function parseJsonPointer(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}
