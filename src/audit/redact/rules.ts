// What gets masked: built-in rules for Kubernetes credentials, plus operator rules from a
// YAML file (a list of {resource, group?, paths, encoding?}).
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { isRecord } from "../../json/record.js";
import { JsonPathError, parseJsonPath, type PatternSegment } from "./json-path.js";
import type { ValueEncoding } from "./tag.js";
import { AuditError } from "../errors.js";

/** An operator rule as written in configuration. */
export interface RedactionRule {
  /** Resource as in audit policies: `configmaps`, or `resource/subresource`. */
  resource: string;
  /** API group; "" (the default) is the core group. */
  group?: string;
  /** JSON paths inside the request/response object, e.g. `data.*`, `spec.token`. */
  paths: string[];
  /** `text` (default): tag the UTF-8 bytes; `base64`: tag the decoded bytes. */
  encoding?: ValueEncoding;
}

export interface CompiledPath {
  pattern: PatternSegment[];
  encoding: ValueEncoding;
}

export interface CompiledRule {
  resource: string;
  group: string;
  paths: CompiledPath[];
}

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

const SECRET_PATHS: CompiledPath[] = [
  { pattern: parseJsonPath("data.*"), encoding: "base64" },
  { pattern: parseJsonPath("stringData.*"), encoding: "text" },
  // kubectl apply stores the whole manifest, data included, in this annotation.
  { pattern: ["metadata", "annotations", LAST_APPLIED_ANNOTATION], encoding: "text" },
];
const TOKEN_REQUEST_PATHS: CompiledPath[] = [{ pattern: parseJsonPath("status.token"), encoding: "text" }];
const TOKEN_REVIEW_PATHS: CompiledPath[] = [{ pattern: parseJsonPath("spec.token"), encoding: "text" }];

/** Credentials Kubernetes itself defines; bootstrap tokens are Secrets, so they are covered. */
export const BUILTIN_RULES: CompiledRule[] = [
  { resource: "secrets", group: "", paths: SECRET_PATHS },
  { resource: "serviceaccounts/token", group: "", paths: TOKEN_REQUEST_PATHS },
  { resource: "tokenreviews", group: "authentication.k8s.io", paths: TOKEN_REVIEW_PATHS },
];

/**
 * Objects recognised by kind wherever they appear (a List of mixed kinds, a Table row),
 * whatever the request's resource was.
 */
export const KIND_PATHS: ReadonlyMap<string, CompiledPath[]> = new Map([
  ["Secret", SECRET_PATHS],
  ["TokenRequest", TOKEN_REQUEST_PATHS],
  ["TokenReview", TOKEN_REVIEW_PATHS],
]);

export class RedactionRuleError extends AuditError<"bad-redaction-rule"> {
  constructor(
    readonly source: string,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("bad-redaction-rule", `${source}: ${field}: ${message}`, options);
  }
}

/** Checks and compiles operator rules; errors name the source, the rule index and the field. */
export function compileRules(rules: unknown, source: string): CompiledRule[] {
  if (!Array.isArray(rules)) throw new RedactionRuleError(source, "(top level)", "expected a list of rules");
  return rules.map((r: unknown, i) => {
    const at = `[${i}]`;
    if (!isRecord(r)) throw new RedactionRuleError(source, at, "expected an object with resource and paths");
    for (const k of Object.keys(r)) {
      if (!["resource", "group", "paths", "encoding"].includes(k))
        throw new RedactionRuleError(source, `${at}.${k}`, "unknown field");
    }
    if (typeof r.resource !== "string" || r.resource === "") {
      throw new RedactionRuleError(
        source,
        `${at}.resource`,
        "required, a resource name such as configmaps or pods/status",
      );
    }
    if (r.group !== undefined && typeof r.group !== "string")
      throw new RedactionRuleError(source, `${at}.group`, "must be a string");
    if (r.encoding !== undefined && r.encoding !== "text" && r.encoding !== "base64") {
      throw new RedactionRuleError(source, `${at}.encoding`, 'must be "text" or "base64"');
    }
    if (!Array.isArray(r.paths) || r.paths.length === 0) {
      throw new RedactionRuleError(source, `${at}.paths`, "required, a non-empty list of JSON paths");
    }
    const encoding: ValueEncoding = r.encoding ?? "text";
    const paths = r.paths.map((p: unknown, j) => {
      if (typeof p !== "string")
        throw new RedactionRuleError(source, `${at}.paths[${j}]`, "must be a string");
      try {
        return { pattern: parseJsonPath(p), encoding };
      } catch (err) {
        if (err instanceof JsonPathError)
          throw new RedactionRuleError(source, `${at}.paths[${j}]`, err.message, { cause: err });
        throw err;
      }
    });
    return { resource: r.resource, group: r.group ?? "", paths };
  });
}

/** Reads extra redaction rules from a YAML (or JSON) file. */
export function loadRedactionRules(path: string): RedactionRule[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new RedactionRuleError(
      path,
      "(file)",
      `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new RedactionRuleError(path, "(syntax)", doc.errors[0]!.message.split("\n")[0] ?? "invalid YAML");
  }
  const rules: unknown = doc.toJS();
  compileRules(rules, path); // validate now so a bad file fails at load, not at first event
  return rules as RedactionRule[];
}
