// Turns a parsed YAML/JSON document into a typed Policy, the way the apiserver's decoder
// does: apiVersion/kind are required, wrong field types are errors, unknown fields are
// ignored (reported as warnings so `policy lint` catches typos such as `omitStage`).
import { AUDIT_API_VERSIONS, type Level, type Stage } from "../types.js";
import { problem, type FieldProblem } from "./errors.js";
import type { GroupResources, Policy, PolicyRule } from "./types.js";
import { isRecord } from "../../json/record.js";

export interface DecodeResult {
  policy: Policy;
  errors: FieldProblem[];
  warnings: FieldProblem[];
}

const POLICY_FIELDS = new Set(["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"]);
const RULE_FIELDS = new Set([
  "level",
  "users",
  "userGroups",
  "verbs",
  "resources",
  "namespaces",
  "nonResourceURLs",
  "omitStages",
  "omitManagedFields",
]);
const GROUP_FIELDS = new Set(["group", "resources", "resourceNames"]);

class Decoder {
  readonly errors: FieldProblem[] = [];
  readonly warnings: FieldProblem[] = [];

  unknownFields(obj: Record<string, unknown>, known: Set<string>, path: string): void {
    for (const key of Object.keys(obj)) {
      if (!known.has(key))
        this.warnings.push(problem(join(path, key), "unknown field, ignored by the apiserver"));
    }
  }

  string(v: unknown, path: string): string {
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") {
      this.errors.push(problem(path, `must be a string, got ${typeName(v)}`));
      return "";
    }
    return v;
  }

  strings(v: unknown, path: string): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.errors.push(problem(path, `must be a list of strings, got ${typeName(v)}`));
      return [];
    }
    return v.map((item, i) => this.string(item, `${path}[${i}]`));
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "boolean") {
      this.errors.push(problem(path, `must be true or false, got ${typeName(v)}`));
      return undefined;
    }
    return v;
  }

  groupResources(v: unknown, path: string): GroupResources[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.errors.push(problem(path, `must be a list, got ${typeName(v)}`));
      return [];
    }
    return v.map((item, i) => {
      const p = `${path}[${i}]`;
      if (!isRecord(item)) {
        this.errors.push(problem(p, `must be an object, got ${typeName(item)}`));
        return { group: "", resources: [], resourceNames: [] };
      }
      this.unknownFields(item, GROUP_FIELDS, p);
      return {
        group: this.string(item.group, `${p}.group`),
        resources: this.strings(item.resources, `${p}.resources`),
        resourceNames: this.strings(item.resourceNames, `${p}.resourceNames`),
      };
    });
  }

  rule(v: unknown, path: string): PolicyRule {
    if (!isRecord(v)) {
      this.errors.push(problem(path, `must be an object, got ${typeName(v)}`));
      v = {};
    }
    const r = v as Record<string, unknown>;
    this.unknownFields(r, RULE_FIELDS, path);
    const rule: PolicyRule = {
      // Validation (not decoding) judges the level's value, as the apiserver does.
      level: this.string(r.level, `${path}.level`) as Level,
      users: this.strings(r.users, `${path}.users`),
      userGroups: this.strings(r.userGroups, `${path}.userGroups`),
      verbs: this.strings(r.verbs, `${path}.verbs`),
      resources: this.groupResources(r.resources, `${path}.resources`),
      namespaces: this.strings(r.namespaces, `${path}.namespaces`),
      nonResourceURLs: this.strings(r.nonResourceURLs, `${path}.nonResourceURLs`),
      omitStages: this.strings(r.omitStages, `${path}.omitStages`) as Stage[],
    };
    const omf = this.bool(r.omitManagedFields, `${path}.omitManagedFields`);
    if (omf !== undefined) rule.omitManagedFields = omf;
    return rule;
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Decodes a policy document; never throws, every problem is returned with its field path. */
export function decodePolicy(doc: unknown): DecodeResult {
  const d = new Decoder();
  const empty: Policy = { apiVersion: "", omitStages: [], omitManagedFields: false, rules: [] };
  if (!isRecord(doc)) {
    d.errors.push(problem("", `a Policy must be an object, got ${typeName(doc)}`));
    return { policy: empty, errors: d.errors, warnings: d.warnings };
  }
  d.unknownFields(doc, POLICY_FIELDS, "");
  const apiVersion = d.string(doc.apiVersion, "apiVersion");
  if (!(AUDIT_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    d.errors.push(
      problem(
        "apiVersion",
        apiVersion === ""
          ? `required; one of ${AUDIT_API_VERSIONS.join(", ")}`
          : `unknown group version "${apiVersion}"; supported: ${AUDIT_API_VERSIONS.join(", ")}`,
      ),
    );
  }
  const kind = d.string(doc.kind, "kind");
  if (kind !== "Policy") d.errors.push(problem("kind", `must be "Policy", got ${JSON.stringify(kind)}`));
  let rules: PolicyRule[] = [];
  if (doc.rules !== undefined && doc.rules !== null) {
    if (Array.isArray(doc.rules)) rules = doc.rules.map((r, i) => d.rule(r, `rules[${i}]`));
    else d.errors.push(problem("rules", `must be a list, got ${typeName(doc.rules)}`));
  }
  const policy: Policy = {
    apiVersion,
    omitStages: d.strings(doc.omitStages, "omitStages") as Stage[],
    omitManagedFields: d.bool(doc.omitManagedFields, "omitManagedFields") ?? false,
    rules,
  };
  return { policy, errors: d.errors, warnings: d.warnings };
}
