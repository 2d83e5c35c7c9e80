// Operator-defined detectors, from a YAML file (serve/import --secret-detectors):
//
//   detectors:
//     - id: acme-api-key
//       description: ACME Corp API key
//       pattern: 'acme_[A-Za-z0-9]{32}'
//       keywords: [acme_]
//   credentialWords: [pin, otp]
//
// They come in addition to the built-in ones (docs/secrets.md).
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { isRecord } from "../json/record.js";
import { documentToJs } from "../yaml/to-js.js";
import { BUILTIN_FORMATS, patternDetector, type FormatDetector } from "./formats.js";
import { MIN_KEYWORD_LENGTH } from "./keywords.js";
import { SecretsError } from "./errors.js";
import { SecretScanner, type ScannerOptions } from "./scanner.js";

export class DetectorConfigError extends SecretsError {
  constructor(
    readonly source: string,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("bad-detector-config", `${source}: ${field}: ${message}`, options);
  }
}

export interface DetectorConfig {
  formats: FormatDetector[];
  credentialWords: string[];
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const WORD = /^[a-z0-9]+$/;
/** A shorter credential word would match inside too many names. */
const MIN_WORD_LENGTH = 3;

/** Checks and compiles a parsed config; errors name `source` and the field. */
export function compileDetectorConfig(doc: unknown, source: string): DetectorConfig {
  const fail = (field: string, message: string): never => {
    throw new DetectorConfigError(source, field, message);
  };
  if (!isRecord(doc)) return fail("(top level)", "expected a mapping with detectors and/or credentialWords");
  for (const k of Object.keys(doc)) {
    if (k !== "detectors" && k !== "credentialWords") fail(k, "unknown field");
  }
  const ids = new Set(BUILTIN_FORMATS.map((f) => f.id));
  const list = doc.detectors ?? [];
  if (!Array.isArray(list)) fail("detectors", "expected a list");
  const formats = (list as unknown[]).map((d, i) => {
    const at = `detectors[${i}]`;
    if (!isRecord(d)) return fail(at, "expected a mapping with id, pattern and keywords");
    for (const k of Object.keys(d)) {
      if (!["id", "description", "pattern", "keywords", "group", "caseInsensitive"].includes(k))
        fail(`${at}.${k}`, "unknown field");
    }
    if (typeof d.id !== "string" || !ID.test(d.id))
      fail(`${at}.id`, "required: lowercase letters, digits and dashes, e.g. acme-api-key");
    const id = d.id as string;
    if (ids.has(id)) fail(`${at}.id`, `${JSON.stringify(id)} is already a detector`);
    ids.add(id);
    if (d.description !== undefined && typeof d.description !== "string")
      fail(`${at}.description`, "must be a string");
    if (typeof d.pattern !== "string" || d.pattern === "")
      fail(`${at}.pattern`, "required: a JavaScript regular expression");
    if (d.caseInsensitive !== undefined && typeof d.caseInsensitive !== "boolean")
      fail(`${at}.caseInsensitive`, "must be true or false");
    let pattern: RegExp;
    try {
      pattern = new RegExp(d.pattern as string, d.caseInsensitive === true ? "i" : "");
    } catch (err) {
      return fail(`${at}.pattern`, (err as Error).message);
    }
    if (pattern.test("")) fail(`${at}.pattern`, "matches the empty string");
    const groups = new RegExp(`${pattern.source}|`).exec("")!.length - 1;
    const group = d.group ?? 0;
    if (!Number.isInteger(group) || (group as number) < 0 || (group as number) > groups)
      fail(`${at}.group`, `must be a capture group of the pattern, 0 to ${groups}`);
    if (!Array.isArray(d.keywords) || d.keywords.length === 0)
      fail(
        `${at}.keywords`,
        "required: strings every match contains (the pre-filter that spares most events looks for them)",
      );
    const keywords = (d.keywords as unknown[]).map((k, j) => {
      if (typeof k !== "string" || k.length < MIN_KEYWORD_LENGTH || !/^[\x20-\x7e]+$/.test(k))
        fail(`${at}.keywords[${j}]`, `must be ${MIN_KEYWORD_LENGTH} or more printable ASCII characters`);
      return (k as string).toLowerCase();
    });
    return patternDetector({
      id,
      description: (d.description as string | undefined) ?? id,
      keywords,
      pattern,
      group: group as number,
    });
  });
  const words = doc.credentialWords ?? [];
  if (!Array.isArray(words)) fail("credentialWords", "expected a list");
  const credentialWords = (words as unknown[]).map((w, i) => {
    if (typeof w !== "string" || w.length < MIN_WORD_LENGTH || !WORD.test(w))
      fail(`credentialWords[${i}]`, `must be ${MIN_WORD_LENGTH} or more lowercase letters or digits`);
    return w as string;
  });
  return { formats, credentialWords };
}

/**
 * Reads and checks a detector file, so a bad file fails at start, not at the first event. What
 * it returns is plain data (it crosses to worker threads); compileDetectorConfig makes detectors.
 */
export function readDetectorConfig(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DetectorConfigError(
      path,
      "(file)",
      `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`,
      {
        cause: err,
      },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0)
    throw new DetectorConfigError(path, "(syntax)", doc.errors[0]!.message.split("\n")[0] ?? "invalid YAML");
  const js = documentToJs(doc);
  if (!js.ok) throw new DetectorConfigError(path, "(syntax)", js.error);
  const value = js.value ?? {};
  compileDetectorConfig(value, path);
  return value;
}

/** The built-in detectors plus those of `config`. */
export function scannerOptions(config?: DetectorConfig): ScannerOptions {
  if (config === undefined) return {};
  return { formats: [...BUILTIN_FORMATS, ...config.formats], credentialWords: config.credentialWords };
}

export function createScanner(config?: DetectorConfig, opaque?: RegExp): SecretScanner {
  return new SecretScanner({ ...scannerOptions(config), opaque });
}
