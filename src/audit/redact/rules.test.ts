import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../test/fixtures/audit/temp-dir.js";
import { compileRules, loadRedactionRules, RedactionRuleError } from "./rules.js";

const dir = tempDir("kubetrail-rules-");
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("loadRedactionRules", () => {
  it("loads the shipped example", () => {
    const rules = loadRedactionRules(
      path.resolve(import.meta.dirname, "../../../examples/policies/redaction-rules.yaml"),
    );
    expect(rules.map((r) => r.resource)).toEqual(["configmaps", "deployments", "certificatesigningrequests"]);
    expect(compileRules(rules, "x")[0]!.paths.map((p) => p.pattern)).toEqual([
      ["data", "password"],
      ["data", "db.password"],
    ]);
  });

  it.each([
    ["not a list", "resource: x\n", "(top level)"],
    ["missing resource", "- paths: [a]\n", "[0].resource"],
    ["empty paths", "- resource: x\n  paths: []\n", "[0].paths"],
    ["bad path", "- resource: x\n  paths: [a, 'b[']\n", "[0].paths[1]"],
    ["unknown field", "- resource: x\n  paths: [a]\n  path: b\n", "[0].path"],
    ["bad encoding", "- resource: x\n  paths: [a]\n  encoding: hex\n", "[0].encoding"],
    ["bad YAML", "- resource: [x\n", "(syntax)"],
  ])("names the file and field for %s", (_name, text, field) => {
    const file = write(`${field.replace(/\W/g, "")}.yaml`, text);
    try {
      loadRedactionRules(file);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RedactionRuleError);
      expect((err as RedactionRuleError).field).toBe(field);
      expect((err as Error).message.startsWith(`${file}: ${field}: `)).toBe(true);
    }
  });

  it("names a missing file", () => {
    expect(() => loadRedactionRules(path.join(dir, "none.yaml"))).toThrow(
      /none\.yaml: \(file\): cannot read \(ENOENT\)/,
    );
  });
});
