// Compiles one Sigma detection item (`field|modifier|…: value(s)`) into a predicate over an event.
// Only modifiers whose meaning is exact for JSON audit events are accepted; anything else is a
// load error, because a rule that silently matches less than its author meant is worse than none.
import { BlockList, isIP } from "node:net";
import { fieldGetter } from "../event-fields.js";
import { parseGlob } from "../glob.js";
import { DetectError } from "../types.js";

export type EventPredicate = (event: unknown) => boolean;
type ScalarMatcher = (value: string | number | boolean) => boolean;

/** Thrown for a detection item kubetrail cannot apply exactly; the loader adds file and rule. */
export class SigmaSyntaxError extends DetectError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("rule", message, options);
  }
}

const STRING_OPS = ["contains", "startswith", "endswith"] as const;
const NUMERIC_OPS = ["gt", "gte", "lt", "lte"] as const;
const REGEX_FLAGS = ["i", "m", "s"] as const;
const KNOWN = new Set<string>([
  ...STRING_OPS,
  ...NUMERIC_OPS,
  ...REGEX_FLAGS,
  "re",
  "cidr",
  "all",
  "exists",
  "cased",
]);

export function compileItem(key: string, raw: unknown): EventPredicate {
  const [field, ...modifiers] = key.split("|");
  if (!field) throw new SigmaSyntaxError(`"${key}": keyword (field-less) search is not supported`);
  for (const m of modifiers) {
    if (!KNOWN.has(m)) throw new SigmaSyntaxError(`"${key}": unsupported modifier "${m}"`);
  }
  const get = fieldGetter(field);
  const mods = new Set(modifiers);
  if (mods.size !== modifiers.length) throw new SigmaSyntaxError(`"${key}": repeated modifier`);

  if (mods.has("exists")) {
    if (mods.size !== 1 || typeof raw !== "boolean") {
      throw new SigmaSyntaxError(`"${key}": exists takes true or false and no other modifier`);
    }
    return (event) => {
      const v = get(event);
      return (v !== undefined && v !== null) === raw;
    };
  }

  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) throw new SigmaSyntaxError(`"${key}": empty value list`);
  const all = mods.has("all");
  if (all && values.length < 2) throw new SigmaSyntaxError(`"${key}": all needs a list of values`);

  const matchers: Array<ScalarMatcher | null> = values.map((v) => {
    if (v === null) {
      if (mods.size > 0) throw new SigmaSyntaxError(`"${key}": null cannot take modifiers`);
      return null;
    }
    return compileScalar(key, mods, v);
  });

  const test = (m: ScalarMatcher | null, v: unknown): boolean => {
    if (m === null) return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
    if (Array.isArray(v)) return v.some((el) => isScalar(el) && m(el));
    return isScalar(v) && m(v);
  };
  if (matchers.length === 1) {
    const only = matchers[0] as ScalarMatcher | null;
    return (event) => test(only, get(event));
  }
  return all
    ? (event) => {
        const v = get(event);
        return matchers.every((m) => test(m, v));
      }
    : (event) => {
        const v = get(event);
        return matchers.some((m) => test(m, v));
      };
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

function compileScalar(key: string, mods: Set<string>, value: unknown): ScalarMatcher {
  if (!isScalar(value)) throw new SigmaSyntaxError(`"${key}": values must be strings, numbers or booleans`);
  const ops = [...mods].filter((m) => m !== "all" && m !== "cased");
  const flags = ops.filter((m) => (REGEX_FLAGS as readonly string[]).includes(m));
  const main = ops.filter((m) => !flags.includes(m));
  if (main.length > 1) throw new SigmaSyntaxError(`"${key}": modifiers ${main.join(" and ")} cannot combine`);
  const op = main[0];
  if (flags.length > 0 && op !== "re") throw new SigmaSyntaxError(`"${key}": ${flags[0]} applies only to re`);
  if (mods.has("cased") && (op === "re" || op === "cidr" || NUMERIC_OPS.includes(op as "gt"))) {
    throw new SigmaSyntaxError(`"${key}": cased applies only to string comparisons`);
  }

  if (op === "re") {
    if (typeof value !== "string") throw new SigmaSyntaxError(`"${key}": re needs a string`);
    let re: RegExp;
    try {
      re = new RegExp(value, flags.join(""));
    } catch (err) {
      throw new SigmaSyntaxError(`"${key}": bad regular expression: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return (v) => re.test(String(v));
  }
  if (op === "cidr") return cidrMatcher(key, value);
  if (op !== undefined && (NUMERIC_OPS as readonly string[]).includes(op)) {
    if (typeof value !== "number") throw new SigmaSyntaxError(`"${key}": ${op} needs a number`);
    return numericMatcher(op as (typeof NUMERIC_OPS)[number], value);
  }
  return stringMatcher(String(value), op as (typeof STRING_OPS)[number] | undefined, mods.has("cased"));
}

function stringMatcher(
  pattern: string,
  op: (typeof STRING_OPS)[number] | undefined,
  cased: boolean,
): ScalarMatcher {
  const glob = parseGlob(pattern);
  const fold = (s: string) => (cased ? s : s.toLowerCase());
  if (!glob.wild) {
    const lit = fold(glob.literal);
    switch (op) {
      case "contains":
        return (v) => fold(String(v)).includes(lit);
      case "startswith":
        return (v) => fold(String(v)).startsWith(lit);
      case "endswith":
        return (v) => fold(String(v)).endsWith(lit);
      default:
        return (v) => fold(String(v)) === lit;
    }
  }
  const head = op === "contains" || op === "endswith" ? "" : "^";
  const tail = op === "contains" || op === "startswith" ? "" : "$";
  const re = new RegExp(`${head}${glob.source}${tail}`, cased ? "" : "i");
  return (v) => re.test(String(v));
}

function numericMatcher(op: (typeof NUMERIC_OPS)[number], bound: number): ScalarMatcher {
  const cmp = {
    gt: (n: number) => n > bound,
    gte: (n: number) => n >= bound,
    lt: (n: number) => n < bound,
    lte: (n: number) => n <= bound,
  }[op];
  return (v) => {
    const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    return Number.isFinite(n) && cmp(n);
  };
}

function cidrMatcher(key: string, value: string | number | boolean): ScalarMatcher {
  const text = String(value);
  const [addr, prefixText] = text.split("/");
  const family = addr ? isIP(addr) : 0;
  const prefix = Number(prefixText);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new SigmaSyntaxError(`"${key}": "${text}" is not a CIDR range`);
  }
  const list = new BlockList();
  list.addSubnet(addr as string, prefix, family === 4 ? "ipv4" : "ipv6");
  // BlockList.check builds a SocketAddress per call, far dearer than any other comparison;
  // a cluster's clients come from few addresses, so answers are remembered (boundedly).
  const seen = new Map<string, boolean>();
  return (v) => {
    if (typeof v !== "string") return false;
    let inRange = seen.get(v);
    if (inRange === undefined) {
      const f = isIP(v);
      inRange = f !== 0 && list.check(v, f === 4 ? "ipv4" : "ipv6");
      if (seen.size >= CIDR_MEMO) seen.clear();
      seen.set(v, inRange);
    }
    return inRange;
  };
}

const CIDR_MEMO = 4096;
