// Every built-in rule, in the order `rules list` shows them.
import type { Rule } from "../types.js";
import { rbacRules } from "./rbac.js";
import { secretRules } from "./secrets.js";
import { workloadRules } from "./workloads.js";

/** Fresh copies each call, so per-run configuration (thresholds) never leaks between detectors. */
export function builtinRules(): Rule[] {
  return [...workloadRules, ...rbacRules, ...secretRules].map((r) => ({
    ...r,
    window: r.window && { ...r.window },
  }));
}
