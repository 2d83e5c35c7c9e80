// Kubernetes label selectors (matchLabels + matchExpressions), decoded with field-named errors
// and matched the way the apiserver matches them.
import { isRecord } from "../../json/record.js";
import { FieldErrors } from "./field-errors.js";

export interface Requirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values: string[];
}

/** All requirements must hold; no requirements selects everything. */
export interface LabelSelector {
  requirements: Requirement[];
}

export const EVERYTHING: LabelSelector = { requirements: [] };

export function decodeSelector(value: unknown, at: string, errs: FieldErrors): LabelSelector {
  if (value === undefined || value === null) return EVERYTHING;
  if (!isRecord(value)) {
    errs.add(at, "must be a label selector (matchLabels, matchExpressions)");
    return EVERYTHING;
  }
  const requirements: Requirement[] = [];
  for (const k of Object.keys(value))
    if (k !== "matchLabels" && k !== "matchExpressions") errs.add(`${at}.${k}`, "unknown field");
  const labels = value["matchLabels"];
  if (labels !== undefined) {
    if (!isRecord(labels)) errs.add(`${at}.matchLabels`, "must be a map of label to value");
    else
      for (const [key, v] of Object.entries(labels)) {
        if (typeof v !== "string") errs.add(`${at}.matchLabels.${key}`, "must be a string");
        else requirements.push({ key, operator: "In", values: [v] });
      }
  }
  const exprs = value["matchExpressions"];
  if (exprs !== undefined) {
    if (!Array.isArray(exprs)) errs.add(`${at}.matchExpressions`, "must be a list");
    else
      exprs.forEach((e: unknown, i) => {
        const p = `${at}.matchExpressions[${i}]`;
        if (!isRecord(e) || typeof e["key"] !== "string") return errs.add(p, "needs key and operator");
        const op = e["operator"];
        const values = e["values"] ?? [];
        if (op !== "In" && op !== "NotIn" && op !== "Exists" && op !== "DoesNotExist")
          return errs.add(`${p}.operator`, "must be In, NotIn, Exists or DoesNotExist");
        if (!Array.isArray(values) || values.some((v) => typeof v !== "string"))
          return errs.add(`${p}.values`, "must be a list of strings");
        if ((op === "In" || op === "NotIn") && values.length === 0)
          return errs.add(`${p}.values`, `must not be empty for ${op}`);
        if ((op === "Exists" || op === "DoesNotExist") && values.length > 0)
          return errs.add(`${p}.values`, `must be empty for ${op}`);
        requirements.push({ key: e["key"], operator: op, values: values as string[] });
      });
  }
  return { requirements };
}

export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of sel.requirements) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.operator) {
      case "In":
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case "NotIn":
        if (has && r.values.includes(v as string)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** metadata.labels of a Kubernetes object, {} when absent or malformed. */
export function labelsOf(object: unknown): Record<string, string> {
  const meta = isRecord(object) ? object["metadata"] : undefined;
  const labels = isRecord(meta) ? meta["labels"] : undefined;
  if (!isRecord(labels)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}
