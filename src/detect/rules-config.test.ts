import { DEFAULT_CONTROL_PLANE_USERS } from "./builtin/index.js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadRules } from "./load-rules.js";
import { parseRulesConfig, readRulesConfig } from "./rules-config.js";
import { DetectError } from "./types.js";

describe("rules config", () => {
  it("parses allow-lists, thresholds, durations and sinks", () => {
    const c = parseRulesConfig(
      [
        "rules:",
        "  secrets-bulk-read: { threshold: 50, window: 2m, allow: { users: [vault] } }",
        "sinks:",
        "  - type: stdout",
        "  - { type: webhook, url: 'https://hooks.example/x', tokenFile: /run/token }",
        "  - { type: alertmanager, url: 'http://127.0.0.1:9093' }",
      ].join("\n"),
      "c.yml",
    );
    expect(c.rules["secrets-bulk-read"]).toEqual({
      threshold: 50,
      windowMs: 120_000,
      allow: { users: ["vault"], groups: [], namespaces: [] },
    });
    expect(c.sinks.map((s) => s.type)).toEqual(["stdout", "webhook", "alertmanager"]);
  });

  it.each([
    ["rules:\n  pod-exec: { treshold: 3 }", /c.yml: rules.pod-exec: unknown key "treshold"/],
    ["rules:\n  pod-exec: { window: soon }", /rules.pod-exec.window: "soon" is not a duration/],
    ["sinks:\n  - { type: pager }", /sinks\[0\].type: "pager"/],
    ["sinks:\n  - { type: slack, url: 'ftp://x' }", /sinks\[0\].url: must be an http/],
    ["allow:\n  users: [1]", /allow.users: must be a list of non-empty strings/],
  ])("rejects %j", (text, reason) => {
    expect(() => parseRulesConfig(text, "c.yml")).toThrow(reason);
  });

  it("loadRules rejects unknown rule ids and thresholds on rules without a window", async () => {
    await expect(
      loadRules({ builtins: true, dirs: [], config: parseRulesConfig("rules:\n  pod-exek: {}", "c.yml") }),
    ).rejects.toThrow(/rules.pod-exek: no such rule/);
    await expect(
      loadRules({
        builtins: true,
        dirs: [],
        config: parseRulesConfig("rules:\n  pod-exec: { threshold: 2 }", "c.yml"),
      }),
    ).rejects.toThrow(/apply only to windowed rules/);
  });

  it("loadRules rejects the whole set when one file is bad, naming each problem", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubetrail-rules-"));
    const good =
      "title: G\nid: g\nlogsource: { product: kubernetes, service: audit }\ndetection:\n  s: { verb: get }\n  condition: s\n";
    await writeFile(join(dir, "a.yml"), good);
    await writeFile(join(dir, "b.yaml"), good);
    await writeFile(
      join(dir, "c.yml"),
      good.replace("condition: s", "condition: s | count() > 3").replace("id: g", "id: c"),
    );
    const err = await loadRules({ builtins: false, dirs: [dir] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DetectError);
    expect((err as Error).message).toMatch(/b\.yaml: rule id "g" is already used by .*a\.yml/);
    expect((err as Error).message).toMatch(/c\.yml: detection: condition .*aggregations/);
    await rm(dir, { recursive: true, force: true });
  });

  it("the shipped examples (config and Sigma rules) load", async () => {
    const examples = join(import.meta.dirname, "../../examples/rules");
    const config = await readRulesConfig(join(examples, "rules-config.yaml"));
    expect(config.sinks.map((s) => s.type)).toEqual(["stdout", "alertmanager", "webhook", "slack"]);
    // The example spells out the default control-plane list.
    expect(config.controlPlane?.users).toEqual([...DEFAULT_CONTROL_PLANE_USERS]);
    const rules = await loadRules({ builtins: true, dirs: [join(examples, "sigma")], config });
    expect(rules.map((r) => r.id)).not.toContain("impersonation");
    expect(rules.find((r) => r.id === "forbidden-burst")?.window).toMatchObject({
      threshold: 30,
      windowMs: 120_000,
    });
    expect(rules.filter((r) => r.source !== "builtin")).toHaveLength(2);
  });
});
