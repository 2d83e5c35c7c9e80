// Turns one Sigma YAML rule into a kubetrail Rule, or rejects it whole with file and reason.
import { basename, extname } from "node:path";
import { parseAllDocuments } from "yaml";
import { documentToJs } from "../../yaml/to-js.js";
import { isRecord } from "../../json/record.js";
import { DetectError, isSeverity, type Rule, type Severity } from "../types.js";
import { allOf, anyOf, type Compiled } from "./compiled.js";
import { compileCondition } from "./condition.js";
import { parseGlob } from "../glob.js";
import { compileItem, SigmaSyntaxError } from "./value-matcher.js";

// Metadata Sigma defines that does not change what a rule matches.
const METADATA = new Set([
  "title",
  "id",
  "name",
  "status",
  "description",
  "references",
  "author",
  "date",
  "modified",
  "tags",
  "falsepositives",
  "level",
  "fields",
  "related",
  "license",
  "logsource",
  "detection",
  "taxonomy",
  "scope",
]);

/** Parses a Sigma rule file's text; `file` only labels errors and the rule's source. */
export function parseSigmaRule(text: string, file: string): Rule {
  const fail = (reason: string): never => {
    throw new DetectError("rule", `${file}: ${reason}`);
  };
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return fail("empty file");
  if (docs.length !== 1) return fail("rule collections (several YAML documents) are not supported");
  const doc = docs[0];
  if (!doc) return fail("empty file");
  const yamlError = doc.errors[0];
  if (yamlError) return fail(`YAML: ${yamlError.message.split("\n")[0]}`);
  const converted = documentToJs(doc);
  if (!converted.ok) return fail(`YAML: ${converted.error}`);
  const rule: unknown = converted.value;
  if (!isRecord(rule)) return fail("a Sigma rule is a YAML mapping");
  if ("correlation" in rule || "action" in rule) return fail("correlation and meta rules are not supported");
  for (const key of Object.keys(rule)) {
    if (!METADATA.has(key)) fail(`unknown top-level key "${key}"`);
  }

  const title = rule.title;
  if (typeof title !== "string" || title.trim() === "") fail("title is required");
  checkLogsource(rule.logsource, fail);
  const severity = rule.level ?? "medium";
  if (!isSeverity(severity)) fail(`level "${String(severity)}" is not a Sigma level`);
  const id = typeof rule.id === "string" && rule.id !== "" ? rule.id : basename(file, extname(file));
  const description = typeof rule.description === "string" ? rule.description.trim() : (title as string);

  const detection = rule.detection;
  if (!isRecord(detection)) return fail("detection is required");
  let compiled: Compiled;
  try {
    compiled = compileDetection(detection);
  } catch (err) {
    if (err instanceof SigmaSyntaxError) return fail(`detection: ${err.message}`);
    throw err;
  }
  return {
    id,
    title: title as string,
    severity: severity as Severity,
    description,
    source: file,
    match: compiled.match,
    resources: compiled.resources,
    verbs: compiled.verbs,
    readsBodies: readsBodies(detection),
  };
}

/** A field of any selection is in requestObject or responseObject. */
function readsBodies(detection: Record<string, unknown>): boolean {
  const fields = (body: unknown): string[] =>
    Array.isArray(body) ? body.flatMap(fields) : isRecord(body) ? Object.keys(body) : [];
  return Object.entries(detection)
    .filter(([name]) => name !== "condition" && name !== "timeframe")
    .flatMap(([, body]) => fields(body))
    .some((key) => /^(requestObject|responseObject)(\.|\||$)/.test(key));
}

function checkLogsource(logsource: unknown, fail: (reason: string) => never): void {
  if (!isRecord(logsource)) fail("logsource is required");
  const ls = logsource as Record<string, unknown>;
  if (ls.product !== "kubernetes" || ls.service !== "audit") {
    fail(`logsource must be product: kubernetes, service: audit (got ${JSON.stringify(ls)})`);
  }
  for (const key of Object.keys(ls)) {
    if (key === "product" || key === "service" || key === "definition") continue;
    if (key === "category" && ls.category === "application") continue;
    fail(`logsource ${key}: ${JSON.stringify(ls[key])} is not a source kubetrail reads`);
  }
}

function compileDetection(detection: Record<string, unknown>): Compiled {
  const selections = new Map<string, Compiled>();
  for (const [name, body] of Object.entries(detection)) {
    if (name === "condition" || name === "timeframe") continue;
    selections.set(name, compileSelection(name, body));
  }
  if ("timeframe" in detection) throw new SigmaSyntaxError("timeframe (aggregation) is not supported");
  const condition = detection.condition;
  const conditions = Array.isArray(condition) ? condition : [condition];
  if (conditions.length === 0 || !conditions.every((c): c is string => typeof c === "string")) {
    throw new SigmaSyntaxError("condition must be a string or a list of strings");
  }
  return anyOf(conditions.map((c) => compileCondition(c, selections)));
}

function compileSelection(name: string, body: unknown): Compiled {
  if (isRecord(body)) return compileMap(name, body);
  if (Array.isArray(body) && body.length > 0 && body.every(isRecord)) {
    return anyOf(body.map((m) => compileMap(name, m)));
  }
  throw new SigmaSyntaxError(
    `selection "${name}": must be a map of fields or a list of maps (keyword searches are not supported)`,
  );
}

function compileMap(name: string, body: Record<string, unknown>): Compiled {
  const entries = Object.entries(body);
  if (entries.length === 0) throw new SigmaSyntaxError(`selection "${name}": is empty`);
  const items = entries.map(([key, value]): Compiled => {
    try {
      return {
        match: compileItem(key, value),
        resources: key === RESOURCE_FIELD ? literals(value) : undefined,
        verbs: key === VERB_FIELD ? literals(value) : undefined,
      };
    } catch (err) {
      if (err instanceof SigmaSyntaxError)
        throw new SigmaSyntaxError(`selection "${name}": ${err.message}`, { cause: err });
      throw err;
    }
  });
  return allOf(items);
}

// Plain equality on these (no modifier) bounds what a rule can match; see compiled.ts.
const RESOURCE_FIELD = "objectRef.resource";
const VERB_FIELD = "verb";

/** The lower-cased values when every one is a plain string without wildcards, else undefined. */
function literals(value: unknown): Set<string> | undefined {
  const values = Array.isArray(value) ? value : [value];
  const out = new Set<string>();
  for (const v of values) {
    if (typeof v !== "string") return undefined;
    const glob = parseGlob(v);
    if (glob.wild) return undefined;
    out.add(glob.literal.toLowerCase());
  }
  return out;
}
