// CEL validations as ValidatingAdmissionPolicy evaluates them: matchConditions first (any false:
// the policy does not apply; an error: the policy errs), then variables in order, then each
// validation once per param object, messages from messageExpression when it yields a string,
// and auditAnnotations. Shared by kubetrail's GuardPolicy and loaded VAPs.
import { isCelError, type CelInput, type CelValue } from "@bufbuild/cel";
import { isRecord } from "../../json/record.js";
import { CelCompileError, compileCel, type CelProgram, type CompileOptions } from "../cel/compile.js";
import { toCelInput } from "../cel/values.js";
import { GuardError, type Violation } from "../types.js";
import type { FieldErrors } from "./field-errors.js";
import type { CheckOutcome, EvalInput } from "./policy.js";

interface Named {
  name: string;
  program: CelProgram;
}

export interface CelValidation {
  program: CelProgram;
  message?: string;
  messageExpression?: CelProgram;
  reason?: string;
  fieldPath?: string;
}

/** Where params come from: none (no paramKind), or objects found for the binding's paramRef. */
export type ParamSource =
  { kind: "none" } | { kind: "objects"; objects: unknown[]; notFound: "Deny" | "Allow"; describe: string };

export interface CelChecks {
  matchConditions: Named[];
  variables: Named[];
  validations: CelValidation[];
  auditAnnotations: { key: string; program: CelProgram }[];
}

const REASONS = ["Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"];

function compileAt(
  source: unknown,
  at: string,
  opts: CompileOptions,
  errs: FieldErrors,
): CelProgram | undefined {
  if (typeof source !== "string" || source.trim() === "") {
    errs.add(at, "required: a CEL expression");
    return undefined;
  }
  try {
    return compileCel(source, opts);
  } catch (err) {
    if (err instanceof CelCompileError) {
      errs.add(at, `cannot be evaluated: ${err.reason}`);
      return undefined;
    }
    throw err;
  }
}

/**
 * Compiles the CEL parts of a policy spec (VAP field names). `roots` is what expressions may
 * read: `params` only with a paramKind, as the apiserver's type checker would require.
 */
export function compileCelChecks(
  spec: Record<string, unknown>,
  at: string,
  roots: ReadonlySet<string>,
  errs: FieldErrors,
): CelChecks {
  const declared = new Set<string>();
  const opts = (): CompileOptions => ({ roots, variables: new Set(declared) });
  const named = (key: string): Named[] =>
    errs.array(spec, key, at).flatMap((v: unknown, i): Named[] => {
      const p = `${at}.${key}[${i}]`;
      if (!isRecord(v)) {
        errs.add(p, "must be an object with name and expression");
        return [];
      }
      errs.unknownFields(v, ["name", "expression"], p);
      const name = errs.string(v, "name", p);
      // Variables are read as variables.NAME; match conditions are only named (qualified names).
      const pattern =
        key === "variables" ? /^[A-Za-z_][A-Za-z0-9_]*$/ : /^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$/;
      if (name === undefined || !pattern.test(name)) {
        errs.add(
          `${p}.name`,
          key === "variables" ? "required: a CEL identifier" : "required: a qualified name",
        );
        return [];
      }
      const program = compileAt(v["expression"], `${p}.expression`, opts(), errs);
      if (key === "variables") declared.add(name);
      return program ? [{ name, program }] : [];
    });
  const matchConditions = named("matchConditions");
  const variables = named("variables");
  const validations = errs.array(spec, "validations", at).flatMap((v: unknown, i): CelValidation[] => {
    const p = `${at}.validations[${i}]`;
    if (!isRecord(v)) {
      errs.add(p, "must be an object with expression and message");
      return [];
    }
    errs.unknownFields(v, ["expression", "message", "messageExpression", "reason", "fieldPath"], p);
    const program = compileAt(v["expression"], `${p}.expression`, opts(), errs);
    const reason = errs.string(v, "reason", p);
    if (reason !== undefined && !REASONS.includes(reason))
      errs.add(`${p}.reason`, `must be one of ${REASONS.join(", ")}`);
    const messageExpression =
      v["messageExpression"] === undefined
        ? undefined
        : compileAt(v["messageExpression"], `${p}.messageExpression`, opts(), errs);
    if (!program) return [];
    return [
      {
        program,
        message: errs.string(v, "message", p),
        messageExpression,
        reason,
        fieldPath: errs.string(v, "fieldPath", p),
      },
    ];
  });
  const auditAnnotations = errs.array(spec, "auditAnnotations", at).flatMap((v: unknown, i) => {
    const p = `${at}.auditAnnotations[${i}]`;
    if (!isRecord(v)) return (errs.add(p, "must be an object with key and valueExpression"), []);
    errs.unknownFields(v, ["key", "valueExpression"], p);
    const key = errs.string(v, "key", p);
    if (key === undefined || key === "") return (errs.add(`${p}.key`, "required"), []);
    const program = compileAt(v["valueExpression"], `${p}.valueExpression`, opts(), errs);
    return program ? [{ key, program }] : [];
  });
  return { matchConditions, variables, validations, auditAnnotations };
}

/** A check that could not be evaluated: caught below and reported as the outcome's error. */
class PolicyEvalError extends GuardError {
  constructor(message: string) {
    super("policy-eval", message);
  }
}

function failureOf(r: CelValue | Error): string | undefined {
  return isCelError(r) ? r.message : undefined;
}

/** Evaluates the checks for one request; never throws for a CEL failure (it is the outcome's error). */
export function runCelChecks(checks: CelChecks, params: ParamSource, input: EvalInput): CheckOutcome {
  const base = input.celInputs();
  const outcome: CheckOutcome = { violations: [] };
  try {
    const paramValues: CelInput[] =
      params.kind === "none" ? [null] : params.objects.map((o) => toCelInput(o));
    if (params.kind === "objects" && paramValues.length === 0) {
      if (params.notFound === "Deny")
        outcome.violations.push({ check: "params", message: `no params found for ${params.describe}` });
      return outcome;
    }
    for (const param of paramValues) {
      const activation = { ...base, params: param };
      for (const c of checks.matchConditions) {
        const r = c.program.evaluate(activation);
        const failure = failureOf(r);
        if (failure !== undefined) throw new PolicyEvalError(`matchCondition ${c.name}: ${failure}`);
        if (r !== true && r !== false)
          throw new PolicyEvalError(`matchCondition ${c.name} must evaluate to a bool`);
        if (r === false) return { notApplicable: true, violations: [] };
      }
      const vars = new Map<string, CelValue>();
      const varErrors = new Map<string, string>();
      for (const v of checks.variables) {
        const r = v.program.evaluate({ ...activation, variables: vars });
        const failure = failureOf(r);
        if (failure !== undefined) varErrors.set(v.name, failure);
        else vars.set(v.name, r as CelValue);
      }
      const withVars = { ...activation, variables: vars };
      checks.validations.forEach((val, i) => {
        for (const name of val.program.variablesRead) {
          const e = varErrors.get(name);
          if (e !== undefined) throw new PolicyEvalError(`validations[${i}]: variable ${name}: ${e}`);
        }
        const r = val.program.evaluate(withVars);
        const failure = failureOf(r);
        if (failure !== undefined) throw new PolicyEvalError(`validations[${i}]: ${failure}`);
        if (r !== true && r !== false) throw new PolicyEvalError(`validations[${i}] must evaluate to a bool`);
        if (r) return;
        const v: Violation = { check: `validations[${i}]`, message: messageOf(val, withVars) };
        if (val.fieldPath !== undefined) v.field = val.fieldPath;
        if (val.reason !== undefined) v.reason = val.reason;
        outcome.violations.push(v);
      });
      for (const a of checks.auditAnnotations) {
        const r = a.program.evaluate(withVars);
        const failure = failureOf(r);
        if (failure !== undefined) throw new PolicyEvalError(`auditAnnotations ${a.key}: ${failure}`);
        if (r === null) continue;
        if (typeof r !== "string")
          throw new PolicyEvalError(`auditAnnotations ${a.key} must evaluate to a string or null`);
        outcome.auditAnnotations = { ...outcome.auditAnnotations, [a.key]: r };
      }
    }
  } catch (err) {
    if (!(err instanceof PolicyEvalError)) throw err;
    return { violations: [], error: err.message };
  }
  return outcome;
}

function messageOf(val: CelValidation, activation: Parameters<CelProgram["evaluate"]>[0]): string {
  if (val.messageExpression) {
    const r = val.messageExpression.evaluate(activation);
    // As in Kubernetes: a failing or empty messageExpression falls back to message.
    if (typeof r === "string" && r.trim() !== "" && !r.includes("\n")) return r;
  }
  return val.message ?? `failed expression: ${val.program.source}`;
}

/**
 * The CEL checks of a policy spec with the variables ValidatingAdmissionPolicy declares
 * (`params` only when the policy has params), requiring at least one validation or audit
 * annotation.
 */
export function compilePolicyChecks(
  spec: Record<string, unknown>,
  errs: FieldErrors,
  hasParams: boolean,
): CelChecks {
  const roots = new Set([
    "object",
    "oldObject",
    "request",
    "namespaceObject",
    "variables",
    ...(hasParams ? ["params"] : []),
  ]);
  const checks = compileCelChecks(spec, "spec", roots, errs);
  if (checks.validations.length === 0 && checks.auditAnnotations.length === 0 && errs.empty)
    errs.add("spec.validations", "required: validations or auditAnnotations");
  return checks;
}
