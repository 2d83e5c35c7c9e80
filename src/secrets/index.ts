// Credential detection by what a value is (docs/secrets.md): pure functions and one scanner
// class, shared by ingest's redaction and guard's admission checks.
//
//   const scanner = new SecretScanner();            // built-in detectors
//   scanner.detect("AKIAIOSFODNN7EXAMPLE")          // [{ kind: "aws-access-key-id", start: 0, end: 20, basis: "format" }]
//   scanner.detect("hunter2", { key: "DB_PASSWORD" }) // [{ kind: "password", … basis: "name" }]
//   findSecretsInJson(configMap.data, scanner)      // every finding with its path
import { mapStrings, pathOf } from "./json-walk.js";
import { SecretScanner, type SecretFinding } from "./scanner.js";

export { classifyKey, entropy, isCredentialValue, type KeyClass } from "./credential-keys.js";
export {
  compileDetectorConfig,
  createScanner,
  DetectorConfigError,
  readDetectorConfig,
  scannerOptions,
  type DetectorConfig,
} from "./config.js";
export {
  BUILTIN_FORMATS,
  patternDetector,
  type FormatDetector,
  type PatternSpec,
  type Span,
} from "./formats.js";
export { mapStrings, pathOf, type PathNode, type StringVisitor } from "./json-walk.js";
export {
  SecretScanner,
  type DetectContext,
  type FindingBasis,
  type ScannerOptions,
  type SecretFinding,
} from "./scanner.js";

let shared: SecretScanner | undefined;

/** The credentials in one value, with the built-in detectors (see SecretScanner.detect). */
export function detectSecrets(value: string, context?: { key?: string }): SecretFinding[] {
  return (shared ??= new SecretScanner()).detect(value, context).map((f) => ({ ...f }));
}

/** A finding and where it is: the path of the string inside the scanned value. */
export interface LocatedFinding extends SecretFinding {
  path: (string | number)[];
}

/**
 * Every credential in a parsed JSON value (a manifest, a ConfigMap's data, a container's env),
 * each string looked at with the name it is stored under (see mapStrings). `key` is the name of
 * `value` itself, when it has one.
 */
export function findSecretsInJson(
  value: unknown,
  scanner: SecretScanner = (shared ??= new SecretScanner()),
  key?: string,
): LocatedFinding[] {
  const found: LocatedFinding[] = [];
  mapStrings(
    value,
    (s, k, parent, segment) => {
      for (const f of scanner.detect(s, { key: k })) found.push({ ...f, path: pathOf(parent, segment) });
      return undefined;
    },
    key,
  );
  return found;
}
