// Compiling CEL for guard policies: parse, check what the expression reads and calls, plan.
// Everything is checked at load so that a policy kubetrail cannot evaluate is refused with
// the reason there, instead of failing (or worse, passing) on the first request.
import {
  celEnv,
  celError,
  CelScalar,
  isCelError,
  parse,
  plan,
  type CelError,
  type CelInput,
  type CelValue,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { GuardError } from "../types.js";
import { KUBERNETES_FUNCS, compileRegex } from "./kubernetes-library.js";
import { KUBERNETES_TYPES } from "./object-types.js";

/** The variables of ValidatingAdmissionPolicy, plus `variables` for composition. */
export const POLICY_ROOTS = [
  "object",
  "oldObject",
  "request",
  "params",
  "namespaceObject",
  "variables",
] as const;
export type PolicyRoot = (typeof POLICY_ROOTS)[number];

const { DYN } = CelScalar;

const ENV = celEnv({
  registry: KUBERNETES_TYPES,
  funcs: [...strings, ...KUBERNETES_FUNCS],
  variables: Object.fromEntries(POLICY_ROOTS.map((r) => [r, DYN])) as Record<PolicyRoot, typeof DYN>,
});

/** Calls the planner evaluates itself rather than through the function table. */
const PLANNER_CALLS = new Set([
  "_[_]",
  "_?_:_",
  "_&&_",
  "_||_",
  "@not_strictly_false",
  "__not_strictly_false__",
]);
/** Type names are identifiers too: `type(x) == string`. */
const TYPE_NAMES = new Set([
  "int",
  "uint",
  "double",
  "bool",
  "string",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
  "dyn",
]);
const AUTHORIZER =
  "`authorizer` needs the kube-apiserver's authorizer, which a webhook does not have; kubetrail cannot evaluate it";
const REGEX_METHODS = new Set(["matches", "find", "findAll"]);

/** Deeper nesting of all/exists/map/filter is refused: its cost grows as the input's size to that power. */
export const MAX_COMPREHENSION_DEPTH = 4;
export const MAX_EXPRESSION_LENGTH = 16 * 1024;

export class CelCompileError extends GuardError {
  constructor(
    readonly expression: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super("cel-compile", reason, options);
  }
}

export interface CompileOptions {
  /** The top-level names this expression may read. */
  roots: ReadonlySet<string>;
  /** Names declared in spec.variables that `variables.NAME` may read (earlier ones only). */
  variables?: ReadonlySet<string>;
}

export type Activation = Partial<Record<PolicyRoot, CelInput>>;

export interface CelProgram {
  readonly source: string;
  /** The composition variables (`variables.NAME`) the expression reads. */
  readonly variablesRead: ReadonlySet<string>;
  /** Never throws: a failure comes back as a CelError. */
  evaluate(activation: Activation): CelValue | CelError;
}

type ParsedExpr = ReturnType<typeof parse>;
type Expr = NonNullable<ParsedExpr["expr"]>;

interface WalkState {
  opts: CompileOptions;
  variablesRead: Set<string>;
}

/** `a.b.c` as "a.b.c" when the chain is only identifiers and selections; else undefined. */
function qualifiedName(e: Expr): string | undefined {
  if (e.exprKind.case === "identExpr") return e.exprKind.value.name;
  if (e.exprKind.case === "selectExpr" && !e.exprKind.value.testOnly && e.exprKind.value.operand) {
    const left = qualifiedName(e.exprKind.value.operand);
    return left === undefined ? undefined : `${left}.${e.exprKind.value.field}`;
  }
  return undefined;
}

function knownFunction(name: string): boolean {
  return PLANNER_CALLS.has(name) || ENV.funcs.find(name) !== undefined;
}

function constantString(e: Expr | undefined): string | undefined {
  if (e?.exprKind.case !== "constExpr") return undefined;
  const c = e.exprKind.value.constantKind;
  return c.case === "stringValue" ? c.value : undefined;
}

function walk(e: Expr | undefined, scope: ReadonlySet<string>, depth: number, st: WalkState): void {
  if (e === undefined) return;
  const k = e.exprKind;
  switch (k.case) {
    case "constExpr":
      return;
    case "identExpr": {
      const name = k.value.name;
      if (scope.has(name) || TYPE_NAMES.has(name)) return;
      if (name === "authorizer") throw new Error(AUTHORIZER);
      if (name === "variables" || !st.opts.roots.has(name))
        throw new Error(
          name === "variables"
            ? "`variables` may only be read as variables.NAME"
            : `undeclared reference to '${name}' (this policy may read: ${[...st.opts.roots].join(", ")})`,
        );
      return;
    }
    case "selectExpr": {
      const operand = k.value.operand;
      if (
        operand?.exprKind.case === "identExpr" &&
        operand.exprKind.value.name === "variables" &&
        !scope.has("variables")
      ) {
        const name = k.value.field;
        if (!st.opts.roots.has("variables") || !(st.opts.variables?.has(name) ?? false))
          throw new Error(`variables.${name} is not declared before this expression in spec.variables`);
        st.variablesRead.add(name);
        return;
      }
      walk(operand, scope, depth, st);
      return;
    }
    case "callExpr": {
      const { function: fn, target, args } = k.value;
      // `strings.quote(x)`, `sets.contains(a, b)`: a namespaced function, not a method call.
      const ns = target === undefined ? undefined : qualifiedName(target);
      const rootOfNs = ns?.split(".")[0];
      if (
        ns !== undefined &&
        rootOfNs !== undefined &&
        !scope.has(rootOfNs) &&
        !st.opts.roots.has(rootOfNs) &&
        rootOfNs !== "variables"
      ) {
        if (rootOfNs === "authorizer") throw new Error(AUTHORIZER);
        const full = `${ns}.${fn}`;
        if (!knownFunction(full)) throw new Error(`unsupported function ${full}()`);
      } else {
        // The receiver first, so the earliest problem in the source is the one reported.
        walk(target, scope, depth, st);
        if (!knownFunction(fn))
          throw new Error(
            `unsupported function ${fn}() (see docs/guardrails.md for the supported libraries)`,
          );
      }
      if (REGEX_METHODS.has(fn)) {
        const pattern = constantString(args[0]);
        if (pattern !== undefined) {
          try {
            compileRegex(pattern);
          } catch (err) {
            throw new Error(`invalid RE2 pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
          }
        }
      }
      for (const a of args) walk(a, scope, depth, st);
      return;
    }
    case "listExpr":
      if (k.value.optionalIndices.length > 0) throw new Error("optional list elements are not supported");
      for (const el of k.value.elements) walk(el, scope, depth, st);
      return;
    case "structExpr":
      if (k.value.messageName !== "")
        throw new Error(`constructing ${k.value.messageName}{…} objects is not supported`);
      for (const entry of k.value.entries) {
        if (entry.optionalEntry) throw new Error("optional map entries are not supported");
        if (entry.keyKind.case === "mapKey") walk(entry.keyKind.value, scope, depth, st);
        walk(entry.value, scope, depth, st);
      }
      return;
    case "comprehensionExpr": {
      if (depth + 1 > MAX_COMPREHENSION_DEPTH)
        throw new Error(
          `macros (all, exists, map, filter…) nested deeper than ${MAX_COMPREHENSION_DEPTH} are refused`,
        );
      const c = k.value;
      walk(c.iterRange, scope, depth, st);
      walk(c.accuInit, scope, depth, st);
      const inner = new Set(scope);
      for (const v of [c.iterVar, c.iterVar2, c.accuVar]) if (v !== "") inner.add(v);
      walk(c.loopCondition, inner, depth + 1, st);
      walk(c.loopStep, inner, depth + 1, st);
      walk(c.result, inner, depth + 1, st);
      return;
    }
    default:
      throw new Error("unsupported expression form");
  }
}

function parseError(source: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/\.\?|\[\?/.test(source))
    return `optional syntax (x.?field, x[?key]) is not supported by kubetrail's CEL evaluator (${message})`;
  return `syntax error: ${message}`;
}

/**
 * Compiles one expression. Throws CelCompileError with the reason when it does not parse,
 * reads a name it may not, calls a function kubetrail does not implement, uses an invalid
 * constant RE2 pattern, or nests macros too deeply.
 */
export function compileCel(source: string, opts: CompileOptions): CelProgram {
  if (source.length > MAX_EXPRESSION_LENGTH)
    throw new CelCompileError(source, `expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  let parsed: ParsedExpr;
  try {
    parsed = parse(source);
  } catch (err) {
    throw new CelCompileError(source, parseError(source, err), { cause: err });
  }
  const st: WalkState = { opts, variablesRead: new Set() };
  try {
    walk(parsed.expr, new Set(), 0, st);
  } catch (err) {
    throw new CelCompileError(source, (err as Error).message, { cause: err });
  }
  let program: (a: Activation) => CelValue | CelError;
  try {
    program = plan(ENV, parsed) as (a: Activation) => CelValue | CelError;
  } catch (err) {
    throw new CelCompileError(source, `cannot plan: ${(err as Error).message}`, { cause: err });
  }
  return {
    source,
    variablesRead: st.variablesRead,
    evaluate(activation) {
      try {
        return program(activation);
      } catch (err) {
        // The evaluator reports failures as values; a throw is a bug in it or in a function.
        return celError(err);
      }
    },
  };
}

/** The error message when `result` is a CEL error, else undefined. */
export function celFailure(result: CelValue | CelError): string | undefined {
  return isCelError(result) ? result.message : undefined;
}
