// `guard check`: manifests evaluated against the same policies as the webhook, with no cluster.
// The report is complete (every violation of every document) and deterministic (input order,
// no clock in it), so CI output diffs cleanly.
import type { SourceDocument } from "./documents.js";
import { evaluatePolicies } from "./evaluate.js";
import { DEFAULT_MANIFEST_CONTEXT, manifestRequest, type ManifestContext } from "./manifest-request.js";
import { NamespaceCache, namespaceInfo } from "./namespaces.js";
import type { LoadedPolicy } from "./policy/policy.js";
import type { DecisionResult, Mode, PolicyResult } from "./types.js";

export interface CheckedDocument {
  file: string;
  line: number;
  template?: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  result: DecisionResult;
  /** The policies that matched the document. */
  policies: PolicyResult[];
}

export interface SkippedDocument {
  file: string;
  line: number;
  reason: string;
}

export interface PolicySummary {
  name: string;
  binding?: string;
  source: string;
  version: string;
  hash: string;
  modes: Mode[];
}

export interface CheckReport {
  apiVersion: "kubetrail.dev/v1";
  kind: "GuardCheckReport";
  summary: {
    documents: number;
    checked: number;
    skipped: number;
    /** Documents by their result. */
    results: Record<DecisionResult, number>;
    violations: number;
    errors: number;
  };
  policies: PolicySummary[];
  documents: CheckedDocument[];
  skipped: SkippedDocument[];
}

export function policySummary(p: LoadedPolicy): PolicySummary {
  const s: PolicySummary = {
    name: p.name,
    source: p.source,
    version: p.version,
    hash: p.hash,
    modes: p.modes,
  };
  if (p.binding !== undefined) s.binding = p.binding;
  return s;
}

export function checkManifests(
  docs: readonly SourceDocument[],
  policies: readonly LoadedPolicy[],
  opts: { context?: ManifestContext; nowMs: number },
): CheckReport {
  const ctx = opts.context ?? DEFAULT_MANIFEST_CONTEXT;
  // Namespaces declared among the manifests give their labels to the objects inside them.
  const namespaces = new NamespaceCache();
  for (const d of docs) {
    const ns = namespaceInfo(d.value);
    if (ns) namespaces.set(ns);
  }
  const report: CheckReport = {
    apiVersion: "kubetrail.dev/v1",
    kind: "GuardCheckReport",
    summary: {
      documents: docs.length,
      checked: 0,
      skipped: 0,
      results: { allow: 0, audit: 0, warn: 0, deny: 0 },
      violations: 0,
      errors: 0,
    },
    policies: policies.filter((p) => p.modes.length > 0).map(policySummary),
    documents: [],
    skipped: [],
  };
  for (const d of docs) {
    const made = manifestRequest(d, ctx);
    if ("skipped" in made) {
      report.skipped.push({ file: d.file, line: d.line, reason: made.skipped });
      continue;
    }
    const r = made.request;
    const decision = evaluatePolicies(policies, r, {
      nowMs: opts.nowMs,
      namespaceObject: namespaces.object(r.namespace),
    });
    const checked: CheckedDocument = {
      file: d.file,
      line: d.line,
      apiVersion: String(d.value["apiVersion"]),
      kind: r.kind.kind,
      namespace: r.namespace,
      name: r.name,
      result: decision.result,
      policies: decision.policies,
    };
    if (d.template !== undefined) checked.template = d.template;
    report.documents.push(checked);
    report.summary.results[decision.result]++;
    for (const p of decision.policies) {
      if (p.status === "fail") report.summary.violations += p.violations.length;
      if (p.status === "error") report.summary.errors++;
    }
  }
  report.summary.checked = report.documents.length;
  report.summary.skipped = report.skipped.length;
  return report;
}

/** A check fails CI when any enforce-mode policy failed (or erred with failurePolicy Fail). */
export function checkFailed(report: CheckReport): boolean {
  return report.summary.results.deny > 0;
}
