// Reading a policy file: YAML or JSON (JSON is YAML), decoded, validated, and refused with
// every problem listed when the kube-apiserver would refuse it.
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { documentToJs } from "../../yaml/to-js.js";
import { decodePolicy } from "./decode.js";
import { PolicyError, problem, type FieldProblem } from "./errors.js";
import type { Policy } from "./types.js";
import { validatePolicy } from "./validate.js";

export interface CheckedPolicy {
  policy: Policy;
  /** Fatal problems; the policy is usable only when this is empty. */
  errors: FieldProblem[];
  /** Fields the apiserver ignores (most often typos). */
  warnings: FieldProblem[];
  /** True when the text is not YAML/JSON at all. */
  syntax: boolean;
}

/** Parses and validates policy text without throwing. */
export function checkPolicyText(text: string): CheckedPolicy {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "";
      return problem(
        where,
        (e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ""),
      );
    });
    return { policy: decodePolicy({}).policy, errors, warnings: [], syntax: true };
  }
  const converted = documentToJs(doc);
  if (!converted.ok) {
    return {
      policy: decodePolicy({}).policy,
      errors: [problem("", converted.error)],
      warnings: [],
      syntax: true,
    };
  }
  const { policy, errors, warnings } = decodePolicy(converted.value);
  if (errors.length === 0) {
    errors.push(...validatePolicy(policy));
    // The apiserver's loader refuses a policy without rules (validation alone allows it).
    if (errors.length === 0 && policy.rules.length === 0)
      errors.push(problem("rules", "a policy needs at least one rule"));
  }
  return { policy, errors, warnings, syntax: false };
}

/** Parses and validates policy text; throws PolicyError("syntax" | "invalid") listing every problem. */
export function parsePolicyText(text: string, source: string): Policy {
  const checked = checkPolicyText(text);
  if (checked.errors.length > 0) {
    throw new PolicyError(checked.syntax ? "syntax" : "invalid", source, checked.errors);
  }
  return checked.policy;
}

/** Reads a policy file (YAML or JSON, audit.k8s.io/v1 or v1beta1) and returns it validated. */
export function loadPolicyFile(path: string): Policy {
  return parsePolicyText(readPolicySource(path), path);
}

export function readPolicySource(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new PolicyError("read", path, [], `${path}: cannot read policy file (${reason})`, { cause: err });
  }
}
