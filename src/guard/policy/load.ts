// Loading guard policies from files and directories: GuardPolicy documents, real
// ValidatingAdmissionPolicy + Binding documents and their param objects, plus the built-ins
// (audit mode unless configured). Refuses the whole set, listing every problem with file and
// line, if any document cannot be evaluated: a policy is never silently skipped.
import { BUILTINS } from "../builtin/catalog.js";
import { readDocumentFiles, type SourceDocument } from "../documents.js";
import { withoutTests } from "../test-documents.js";
import { GuardError } from "../types.js";
import type { FieldErrors } from "./field-errors.js";
import { decodeGuardPolicy, defaultBuiltin, GUARD_API_VERSION, GUARD_POLICY_KIND } from "./guard-policy.js";
import type { LoadedPolicy } from "./policy.js";
import {
  bindVap,
  decodeBinding,
  decodeVap,
  VAP_BINDING_KIND,
  VAP_KIND,
  VAP_VERSIONS,
  type DecodedBinding,
  type DecodedVap,
} from "./vap.js";

export interface PolicySet {
  /** In a stable order: files sorted by path, documents in file order, then default built-ins. */
  policies: LoadedPolicy[];
  /** Things worth knowing that do not stop loading (a policy without a binding is not evaluated). */
  warnings: string[];
}

export interface LoadOptions {
  /** Add the built-ins not configured by a policy file, in audit mode. Default true. */
  builtins?: boolean;
}

/** The policy documents under `paths`: every document but policy unit tests (test-documents.ts). */
export function readPolicyDocuments(paths: readonly string[]): SourceDocument[] {
  return withoutTests(readDocumentFiles(paths, "policy"));
}

function describe(doc: SourceDocument): string {
  const meta = doc.value["metadata"];
  const name =
    meta && typeof meta === "object" && "name" in meta ? String((meta as { name: unknown }).name) : "";
  return `${doc.file}:${doc.line}: ${String(doc.value["kind"])}${name ? ` ${name}` : ""}`;
}

function report(doc: SourceDocument, errs: FieldErrors, into: string[]): void {
  for (const e of errs.errors)
    into.push(`${describe(doc)}: ${e.field === "" ? "" : `${e.field}: `}${e.message}`);
}

const isVapVersion = (v: unknown) => typeof v === "string" && VAP_VERSIONS.includes(v);

/** Builds the policy set from documents; throws GuardError("policy") listing every problem. */
export function policiesFromDocuments(docs: readonly SourceDocument[], opts: LoadOptions = {}): PolicySet {
  const problems: string[] = [];
  const warnings: string[] = [];
  const policies: LoadedPolicy[] = [];
  const configuredBuiltins = new Set<string>();
  const vaps = new Map<string, DecodedVap>();
  const bindings: DecodedBinding[] = [];
  const others: SourceDocument[] = [];
  const seen = new Map<string, SourceDocument>();
  const unique = (key: string, doc: SourceDocument): boolean => {
    const first = seen.get(key);
    if (first) {
      problems.push(`${describe(doc)}: the name is already used at ${first.file}:${first.line}`);
      return false;
    }
    seen.set(key, doc);
    return true;
  };
  for (const doc of docs) {
    const { apiVersion, kind } = doc.value;
    if (apiVersion === GUARD_API_VERSION && kind === GUARD_POLICY_KIND) {
      const d = decodeGuardPolicy(doc);
      report(doc, d.errors, problems);
      if (d.builtin) configuredBuiltins.add(d.builtin);
      if (d.policy && unique(`policy/${d.policy.name}`, doc)) policies.push(d.policy);
    } else if (isVapVersion(apiVersion) && kind === VAP_KIND) {
      const d = decodeVap(doc);
      report(doc, d.errors, problems);
      if (unique(`vap/${d.name}`, doc)) vaps.set(d.name, d);
    } else if (isVapVersion(apiVersion) && kind === VAP_BINDING_KIND) {
      const b = decodeBinding(doc);
      if (unique(`binding/${b.name}`, doc)) bindings.push(b);
    } else others.push(doc);
  }
  const paramKinds = new Set(
    [...vaps.values()].flatMap((v) => (v.paramKind ? [`${v.paramKind.apiVersion}/${v.paramKind.kind}`] : [])),
  );
  const params = others.filter((d) =>
    paramKinds.has(`${String(d.value["apiVersion"])}/${String(d.value["kind"])}`),
  );
  for (const d of others)
    if (!params.includes(d))
      problems.push(
        `${describe(d)}: not a policy (${GUARD_API_VERSION} ${GUARD_POLICY_KIND}, ${VAP_KIND}, ${VAP_BINDING_KIND}) nor the paramKind of a loaded ${VAP_KIND}`,
      );
  const bound = new Set<string>();
  for (const b of bindings) {
    const vap = vaps.get(b.policyName);
    if (!vap) b.errors.add("spec.policyName", `no ${VAP_KIND} named "${b.policyName}" is loaded`);
    else {
      bound.add(vap.name);
      const ofKind = vap.paramKind
        ? params.filter(
            (p) =>
              p.value["apiVersion"] === vap.paramKind?.apiVersion && p.value["kind"] === vap.paramKind?.kind,
          )
        : [];
      const p = bindVap(vap, b, ofKind);
      if (p) policies.push(p);
    }
    report(b.doc, b.errors, problems);
  }
  for (const vap of vaps.values())
    if (!bound.has(vap.name))
      warnings.push(
        `${describe(vap.doc)}: no ${VAP_BINDING_KIND} refers to it, so it is not evaluated (as in Kubernetes)`,
      );
  if (problems.length > 0)
    throw new GuardError(
      "policy",
      `policies refused (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`,
    );
  if (opts.builtins !== false)
    for (const def of BUILTINS) if (!configuredBuiltins.has(def.name)) policies.push(defaultBuiltin(def));
  return { policies, warnings };
}

/** Reads and builds the policy set from files and directories (none: the built-ins alone). */
export function loadPolicies(paths: readonly string[], opts: LoadOptions = {}): PolicySet {
  return policiesFromDocuments(readPolicyDocuments(paths), opts);
}
