// `guard check` reports for CI test views (JUnit XML) and code scanning (SARIF 2.1.0, with the
// file and line of each failing document), and the findings the CLI's table lists. Every
// violation appears, in the order of the input.
import type { Log, ReportingDescriptor, Result } from "sarif";
import type { CheckedDocument, CheckReport } from "../check.js";
import type { PolicyResult, Violation } from "../types.js";

export interface Finding {
  doc: CheckedDocument;
  policy: PolicyResult;
  /** A violation, or the policy's error as one. */
  violation: Violation;
  /** What it did: deny, warn, audit (recorded only), or excepted (an exception waived it). */
  effect: "deny" | "warn" | "audit" | "excepted";
}

function effectOf(p: PolicyResult): Finding["effect"] {
  if (p.status === "excepted") return "excepted";
  if (p.effects.includes("deny")) return "deny";
  return p.effects.includes("warn") ? "warn" : "audit";
}

/** Every violation and policy error, document by document, policy by policy. */
export function findings(report: CheckReport): Finding[] {
  const out: Finding[] = [];
  for (const doc of report.documents)
    for (const policy of doc.policies) {
      if (policy.status === "pass") continue;
      const violations =
        policy.status === "error"
          ? [{ check: "policy-error", message: `policy could not be evaluated: ${policy.error ?? ""}` }]
          : policy.violations;
      for (const violation of violations) out.push({ doc, policy, violation, effect: effectOf(policy) });
    }
  return out;
}

export function objectLabel(d: CheckedDocument): string {
  return `${d.kind}/${d.namespace ? `${d.namespace}/` : ""}${d.name || "(unnamed)"}`;
}

export function policyName(p: PolicyResult): string {
  return p.binding === undefined ? p.policy : `${p.policy}/${p.binding}`;
}

function xml(text: string): string {
  // XML 1.0 cannot carry most control characters at all, escaped or not.
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * One test suite per policy, one test case per document it matched: a failure for what an
 * enforce policy (or a failing error) refuses, the violations as output for warn and audit.
 */
export function renderJunit(report: CheckReport): string {
  const byPolicy = new Map<string, { doc: CheckedDocument; result: PolicyResult }[]>();
  for (const p of report.policies)
    byPolicy.set(p.binding === undefined ? p.name : `${p.name}/${p.binding}`, []);
  for (const doc of report.documents)
    for (const result of doc.policies) {
      const key = policyName(result);
      const list = byPolicy.get(key) ?? [];
      list.push({ doc, result });
      byPolicy.set(key, list);
    }
  let tests = 0;
  let failures = 0;
  const suites: string[] = [];
  for (const [policy, cases] of byPolicy) {
    const body: string[] = [];
    let suiteFailures = 0;
    for (const { doc, result } of cases) {
      const name = `${objectLabel(doc)} (${doc.file}:${doc.line})`;
      const lines = (
        result.status === "error"
          ? [`policy could not be evaluated: ${result.error ?? ""}`]
          : result.violations.map((v) => `${v.field ?? "-"}: ${v.message}`)
      ).join("\n");
      const attrs = `name="${xml(name)}" classname="${xml(policy)}" file="${xml(doc.file)}" line="${doc.line}"`;
      if (result.effects.includes("deny")) {
        suiteFailures++;
        body.push(
          `    <testcase ${attrs}>\n      <failure message="${xml(`${result.violations.length || 1} violation(s) of enforce policy ${policy}`)}" type="enforce">${xml(lines)}</failure>\n    </testcase>`,
        );
      } else if (result.status === "pass") body.push(`    <testcase ${attrs}/>`);
      else {
        const why =
          result.status === "excepted"
            ? `excepted by ${result.exception?.name ?? "?"} (owner ${result.exception?.owner ?? "?"}, expires ${result.exception?.expires ?? "?"})\n`
            : `${result.modes.join(",")} mode\n`;
        body.push(
          `    <testcase ${attrs}>\n      <system-out>${xml(why + lines)}</system-out>\n    </testcase>`,
        );
      }
    }
    tests += cases.length;
    failures += suiteFailures;
    suites.push(
      `  <testsuite name="${xml(policy)}" tests="${cases.length}" failures="${suiteFailures}" errors="0" skipped="0">\n${body.join("\n")}${body.length > 0 ? "\n" : ""}  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kubetrail guard check" tests="${tests}" failures="${failures}" errors="0">\n${suites.join("\n")}${suites.length > 0 ? "\n" : ""}</testsuites>\n`;
}

const SARIF_LEVEL: Record<Finding["effect"], Result.level> = {
  deny: "error",
  warn: "warning",
  audit: "note",
  excepted: "note",
};

/** SARIF 2.1.0: a rule per policy and check, a result per violation at the document's file and line. */
export function renderSarif(
  report: CheckReport,
  toolVersion: string,
  uriOf: (file: string) => string,
): string {
  const rules: ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  const results: Result[] = [];
  for (const f of findings(report)) {
    const id = `${policyName(f.policy)}/${f.violation.check}`;
    let index = ruleIndex.get(id);
    if (index === undefined) {
      index = rules.length;
      ruleIndex.set(id, index);
      rules.push({
        id,
        name: f.violation.check,
        shortDescription: { text: `${policyName(f.policy)}: ${f.violation.check}` },
        properties: {
          policy: f.policy.policy,
          version: f.policy.version,
          hash: f.policy.hash,
          modes: f.policy.modes,
        },
      });
    }
    const result: Result = {
      ruleId: id,
      ruleIndex: index,
      level: SARIF_LEVEL[f.effect],
      message: {
        text: `${objectLabel(f.doc)}: ${f.violation.message}${f.violation.field ? ` (${f.violation.field})` : ""}`,
      },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: uriOf(f.doc.file) },
            region: { startLine: f.doc.line },
          },
          logicalLocations: [
            {
              fullyQualifiedName: `${objectLabel(f.doc)}${f.violation.field ? `:${f.violation.field}` : ""}`,
              kind: "object",
            },
          ],
        },
      ],
    };
    if (f.effect === "excepted" && f.policy.exception)
      result.suppressions = [
        {
          kind: "external",
          justification: `exception ${f.policy.exception.name} (owner ${f.policy.exception.owner}, expires ${f.policy.exception.expires})`,
        },
      ];
    if (f.doc.template !== undefined) result.properties = { helmTemplate: f.doc.template };
    results.push(result);
  }
  const log: Log = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: { driver: { name: "kubetrail guard", version: toolVersion, rules } },
        results,
      },
    ],
  };
  return JSON.stringify(log, null, 2) + "\n";
}
