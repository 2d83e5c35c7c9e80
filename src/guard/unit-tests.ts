// `guard test`: policy unit tests in the manner of `kyverno test`. A kubetrail.dev/v1 GuardTest
// names policy files, resource manifests and the result each policy must give each resource
// (pass, fail, excepted, error, or skip when the policy does not apply), optionally the checks
// that must fail. Paths are relative to the test file.
import path from "node:path";
import { isRecord } from "../json/record.js";
import { checkManifests, type CheckedDocument } from "./check.js";
import { readDocumentFiles, type SourceDocument } from "./documents.js";
import { DEFAULT_MANIFEST_CONTEXT, type ManifestContext } from "./manifest-request.js";
import { FieldErrors } from "./policy/field-errors.js";
import { policiesFromDocuments, readPolicyDocuments } from "./policy/load.js";
import { isGuardTest } from "./test-documents.js";
import { GuardError } from "./types.js";

const EXPECTED = ["pass", "fail", "excepted", "error", "skip"] as const;
type Expected = (typeof EXPECTED)[number];

export interface ExpectedResult {
  policy: string;
  resources: string[];
  result: Expected;
  checks: string[];
}

export interface GuardTestSpec {
  name: string;
  /** file:line of the test document. */
  source: string;
  dir: string;
  policies: string[];
  builtins: boolean;
  resources: string[];
  context: ManifestContext;
  results: ExpectedResult[];
}

export interface AssertionOutcome {
  test: string;
  policy: string;
  resource: string;
  expected: Expected;
  actual: Expected | "missing";
  /** Checks the test wanted failed but that did not. */
  missingChecks: string[];
  ok: boolean;
  /** Why it failed, when it did. */
  detail?: string;
}

export function decodeGuardTest(doc: SourceDocument): GuardTestSpec {
  const errs = new FieldErrors();
  const v = doc.value;
  const meta = isRecord(v["metadata"]) ? v["metadata"] : {};
  const spec = isRecord(v["spec"]) ? v["spec"] : {};
  errs.unknownFields(spec, ["policies", "builtins", "resources", "namespace", "user", "results"], "spec");
  const user = isRecord(spec["user"]) ? spec["user"] : {};
  const results = errs.array(spec, "results", "spec").flatMap((r: unknown, i): ExpectedResult[] => {
    const at = `spec.results[${i}]`;
    if (!isRecord(r)) return (errs.add(at, "must be an object with policy, resources and result"), []);
    errs.unknownFields(r, ["policy", "resources", "result", "checks"], at);
    const result = r["result"];
    if (!(EXPECTED as readonly unknown[]).includes(result))
      errs.add(`${at}.result`, `must be one of ${EXPECTED.join(", ")}`);
    const policy = errs.string(r, "policy", at) ?? "";
    if (policy === "") errs.add(`${at}.policy`, "required");
    const resources = errs.strings(r, "resources", at);
    if (resources.length === 0)
      errs.add(`${at}.resources`, "required: names, KIND/NAME or KIND/NAMESPACE/NAME");
    return [{ policy, resources, result: result as Expected, checks: errs.strings(r, "checks", at) }];
  });
  if (results.length === 0 && errs.empty) errs.add("spec.results", "required");
  const policies = errs.strings(spec, "policies", "spec");
  const resources = errs.strings(spec, "resources", "spec");
  if (policies.length === 0 && spec["builtins"] !== true)
    errs.add("spec.policies", "required (or builtins: true)");
  if (resources.length === 0) errs.add("spec.resources", "required");
  const name = typeof meta["name"] === "string" ? meta["name"] : path.basename(doc.file);
  if (!errs.empty)
    throw new GuardError(
      "test",
      `${doc.file}:${doc.line}: GuardTest ${name}: ${errs.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`,
    );
  return {
    name,
    source: `${doc.file}:${doc.line}`,
    dir: path.dirname(doc.file),
    policies,
    builtins: spec["builtins"] === true,
    resources,
    context: {
      defaultNamespace:
        typeof spec["namespace"] === "string" ? spec["namespace"] : DEFAULT_MANIFEST_CONTEXT.defaultNamespace,
      user: {
        username:
          typeof user["username"] === "string" ? user["username"] : DEFAULT_MANIFEST_CONTEXT.user.username,
        groups: Array.isArray(user["groups"])
          ? user["groups"].filter((g): g is string => typeof g === "string")
          : DEFAULT_MANIFEST_CONTEXT.user.groups,
      },
    },
    results,
  };
}

/** The GuardTest documents under `paths` (files or directories); other documents are ignored. */
export function findGuardTests(paths: readonly string[]): GuardTestSpec[] {
  return readDocumentFiles(paths, "test").filter(isGuardTest).map(decodeGuardTest);
}

function refMatches(ref: string, d: CheckedDocument): boolean {
  const parts = ref.split("/");
  if (parts.length === 1) return d.name === ref;
  if (parts.length === 2) return d.kind === parts[0] && d.name === parts[1];
  return d.kind === parts[0] && d.namespace === parts[1] && d.name === parts[2];
}

/** Runs one test: loads its policies and resources, and compares every expected result. */
export function runGuardTest(t: GuardTestSpec, nowMs: number): AssertionOutcome[] {
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(t.dir, p));
  const set = policiesFromDocuments(readPolicyDocuments(t.policies.map(resolve)), {
    builtins: t.builtins,
  });
  const report = checkManifests(readDocumentFiles(t.resources.map(resolve), "test"), set.policies, {
    context: t.context,
    nowMs,
  });
  const known = new Set(set.policies.map((p) => p.name));
  const out: AssertionOutcome[] = [];
  for (const want of t.results)
    for (const ref of want.resources) {
      const base = {
        test: t.name,
        policy: want.policy,
        resource: ref,
        expected: want.result,
        missingChecks: [] as string[],
      };
      if (!known.has(want.policy)) {
        out.push({
          ...base,
          actual: "missing",
          ok: false,
          detail: `no policy named ${want.policy} is loaded`,
        });
        continue;
      }
      const docs = report.documents.filter((d) => refMatches(ref, d));
      if (docs.length !== 1) {
        out.push({
          ...base,
          actual: "missing",
          ok: false,
          detail:
            docs.length === 0
              ? "no such resource"
              : `${docs.length} resources match; use KIND/NAMESPACE/NAME`,
        });
        continue;
      }
      const results = docs[0]!.policies.filter((p) => p.policy === want.policy);
      const actual: Expected =
        results.length === 0
          ? "skip"
          : results.some((r) => r.status === "error")
            ? "error"
            : results.some((r) => r.status === "fail")
              ? "fail"
              : results.some((r) => r.status === "excepted")
                ? "excepted"
                : "pass";
      const failed = new Set(results.flatMap((r) => r.violations.map((v) => v.check)));
      const missingChecks = want.checks.filter((c) => !failed.has(c));
      const ok = actual === want.result && missingChecks.length === 0;
      const outcome: AssertionOutcome = { ...base, actual, missingChecks, ok };
      if (!ok) {
        const why = results.flatMap((r) =>
          r.error !== undefined ? [r.error] : r.violations.map((v) => `${v.check}: ${v.message}`),
        );
        outcome.detail = [
          missingChecks.length > 0 ? `checks that did not fail: ${missingChecks.join(", ")}` : "",
          ...why,
        ]
          .filter(Boolean)
          .join("; ");
      }
      out.push(outcome);
    }
  return out;
}
