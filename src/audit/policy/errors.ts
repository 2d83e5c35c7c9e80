import { AuditError } from "../errors.js";

/** One problem in a policy, located by its field path (e.g. `rules[3].omitStages[0]`). */
export interface FieldProblem {
  /** Field path in the Kubernetes style: `rules[2].resources[0].group`. */
  field: string;
  /** Index of the rule the problem is in, when it is inside a rule. */
  rule?: number;
  message: string;
}

export type PolicyErrorCode = "read" | "syntax" | "invalid";

/**
 * A policy that cannot be used. `problems` lists every field problem found (not only the
 * first) so `policy lint` can show them all; the message names the source and each field.
 */
export class PolicyError extends AuditError<PolicyErrorCode> {
  constructor(
    code: PolicyErrorCode,
    readonly source: string,
    readonly problems: FieldProblem[],
    summary?: string,
    options?: { cause?: unknown },
  ) {
    super(code, summary ?? `${source}: ${problems.map(formatProblem).join("; ")}`, options);
  }
}

export function formatProblem(p: FieldProblem): string {
  return p.field === "" ? p.message : `${p.field}: ${p.message}`;
}

/** Parses the rule index out of a field path so callers can group problems by rule. */
export function ruleIndexOf(field: string): number | undefined {
  const m = /^rules\[(\d+)\]/.exec(field);
  return m ? Number(m[1]) : undefined;
}

export function problem(field: string, message: string): FieldProblem {
  const rule = ruleIndexOf(field);
  return rule === undefined ? { field, message } : { field, rule, message };
}
