import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { compileDetectorConfig, createScanner, DetectorConfigError, readDetectorConfig } from "./index.js";

const dir = tempDir("kubetrail-detectors-");
const write = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("detector config", () => {
  it("adds an operator's detector and credential words to the built-in ones", () => {
    const file = write(
      "ok.yaml",
      [
        "detectors:",
        "  - id: acme-api-key",
        "    description: ACME Corp API key",
        "    pattern: 'acme_(?:live|test)_[A-Za-z0-9]{24}'",
        "    keywords: [acme_live_, acme_test_]",
        "credentialWords: [pin]",
      ].join("\n"),
    );
    const scanner = createScanner(compileDetectorConfig(readDetectorConfig(file), file));
    const key = "acme_live_0123456789abcdefABCDEFGH";
    expect(scanner.detect(`key is ${key}`)).toEqual([
      { start: 7, end: 7 + key.length, kind: "acme-api-key", basis: "format" },
    ]);
    expect(scanner.detect("4711", { key: "card_pin" })).toEqual([]); // too short to look random
    expect(scanner.detect("k3Jq9vLz2PwX", { key: "card_pin" }).map((f) => f.kind)).toEqual(["credential"]);
    expect(scanner.detect("AKIAIOSFODNN7EXAMPLE").map((f) => f.kind)).toEqual(["aws-access-key-id"]);
    expect(scanner.mayContainSecrets(Buffer.from(`{"x":"${key}"}`))).toBe(true);
    expect(scanner.mayContainSecrets(Buffer.from(`{"x":"acme"}`))).toBe(false);
  });

  it.each([
    ["not a mapping", "- a\n", "(top level)"],
    ["unknown field", "detector: []\n", "detector"],
    ["missing pattern", "detectors:\n  - id: x\n    keywords: [abc]\n", "detectors[0].pattern"],
    ["bad regex", "detectors:\n  - id: x\n    pattern: 'a('\n    keywords: [abc]\n", "detectors[0].pattern"],
    [
      "empty match",
      "detectors:\n  - id: x\n    pattern: 'a*'\n    keywords: [abc]\n",
      "detectors[0].pattern",
    ],
    ["no keywords", "detectors:\n  - id: x\n    pattern: 'abc'\n", "detectors[0].keywords"],
    [
      "short keyword",
      "detectors:\n  - id: x\n    pattern: 'abc'\n    keywords: [ab]\n",
      "detectors[0].keywords[0]",
    ],
    ["built-in id", "detectors:\n  - id: jwt\n    pattern: 'abc'\n    keywords: [abc]\n", "detectors[0].id"],
    [
      "bad group",
      "detectors:\n  - id: x\n    pattern: 'a(b)c'\n    keywords: [abc]\n    group: 2\n",
      "detectors[0].group",
    ],
    ["bad word", "credentialWords: [PIN]\n", "credentialWords[0]"],
    ["bad YAML", "detectors: [\n", "(syntax)"],
  ])("names the file and field: %s", (_name, text, field) => {
    const file = write(`${field.replace(/\W/g, "")}.yaml`, text);
    try {
      readDetectorConfig(file);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DetectorConfigError);
      expect((err as DetectorConfigError).field).toBe(field);
      expect((err as Error).message.startsWith(`${file}: ${field}: `)).toBe(true);
    }
  });

  it("names a missing file", () => {
    expect(() => readDetectorConfig(path.join(dir, "none.yaml"))).toThrow(
      /none\.yaml: \(file\): cannot read \(ENOENT\)/,
    );
  });
});
