// `kubetrail policy lint|test` and `kubetrail redaction check`, run as the real CLI.
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generateEventLines, toEventList } from "../bench/gen/events.js";
import { attributesFromEvent } from "../src/audit/policy/attributes.js";
import { createPolicyEvaluator } from "../src/audit/policy/evaluate.js";
import { loadPolicyFile } from "../src/audit/policy/load.js";
import { tagValue } from "../src/audit/redact/tag.js";
import type { AuditEvent } from "../src/audit/types.js";
import { loadOrCreateRedactionKey } from "../src/store/fs/keys.js";
import { tempDir } from "./fixtures/audit/temp-dir.js";
import { CLI as cli } from "./fixtures/cli.js";

const root = path.resolve(import.meta.dirname, "..");
const GKE = path.join(root, "examples/policies/gke-like.yaml");
const SMALL = path.join(root, "test/fixtures/policy/secrets-metadata.yaml");
const INVALID = path.join(root, "test/fixtures/policy/invalid.yaml");

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let eventsFile: string;
let lines: string[];
beforeAll(() => {
  dir = tempDir("kubetrail-policy-cli-");
  lines = [...generateEventLines({ seed: 11, count: 400 })];
  eventsFile = path.join(dir, "audit.log");
  writeFileSync(eventsFile, lines.join("\n") + "\n");
});

describe("kubetrail policy lint", () => {
  it("accepts a valid policy", () => {
    const r = run(["policy", "lint", GKE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("valid (20 rules)");
  });

  it("lists every problem with its rule and field, and exits 1", () => {
    const r = run(["policy", "lint", INVALID]);
    expect(r.code).toBe(1);
    for (const field of [
      "omitStages[0]",
      "rules[1].level",
      "rules[2].nonResourceURLs[0]",
      "rules[2].nonResourceURLs[1]",
      "rules[3].nonResourceURLs",
      "rules[4].resources[0].group",
      "rules[4].resources[0].resourceNames",
      "rules[5].level",
    ]) {
      expect(r.stdout).toContain(`error: ${field}: `);
    }
    expect(r.stdout).toContain("warning: rules[5].omitStage: unknown field");
    const json = JSON.parse(run(["policy", "lint", "-o", "json", INVALID]).stdout) as {
      valid: boolean;
      errors: unknown[];
    };
    expect(json.valid).toBe(false);
    expect(json.errors).toHaveLength(8);
  });

  it("names a file it cannot read", () => {
    const r = run(["policy", "lint", path.join(dir, "nope.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nope.yaml: cannot read policy file (ENOENT)");
  });
});

describe("kubetrail policy test", () => {
  it("-o jsonl prints exactly one decision per input event, equal to the library's", () => {
    const r = run(["policy", "test", "--policy", GKE, "--events", eventsFile, "-o", "jsonl"]);
    expect(r.code).toBe(0);
    const out = r.stdout.trimEnd().split("\n");
    expect(out).toHaveLength(lines.length);
    const ev = createPolicyEvaluator(loadPolicyFile(GKE));
    out.forEach((line, i) => {
      const got = JSON.parse(line) as Record<string, unknown>;
      const event = JSON.parse(lines[i]!) as AuditEvent;
      const d = ev.evaluate(attributesFromEvent(event));
      expect(Object.keys(got)).toEqual(["auditID", "stage", "level", "omitStages", "rule"]);
      expect(got).toEqual({
        auditID: event.auditID,
        stage: event.stage,
        level: d.level,
        omitStages: d.omitStages,
        rule: d.rule,
      });
    });
  });

  it("reads EventList documents the same as log lines", () => {
    const events = lines.slice(0, 50).map((l) => JSON.parse(l) as AuditEvent);
    const listFile = path.join(dir, "batch.json");
    writeFileSync(listFile, JSON.stringify(toEventList(events), null, 2));
    const fromList = run(["policy", "test", "--policy", GKE, "--events", listFile, "-o", "jsonl"]).stdout;
    const batches = path.join(dir, "batches.jsonl");
    writeFileSync(
      batches,
      `${JSON.stringify(toEventList(events.slice(0, 20)))}\n\n${JSON.stringify(toEventList(events.slice(20)))}\n`,
    );
    expect(run(["policy", "test", "--policy", GKE, "--events", batches, "-o", "jsonl"]).stdout).toBe(
      fromList,
    );
    const lineFile = path.join(dir, "first50.log");
    writeFileSync(lineFile, lines.slice(0, 50).join("\n"));
    expect(fromList).toBe(
      run(["policy", "test", "--policy", GKE, "--events", lineFile, "-o", "jsonl"]).stdout,
    );
  });

  it("ends the table output with a summary, and compares two policies", () => {
    const r = run(["policy", "test", "--policy", GKE, "--events", eventsFile, "--compare", SMALL]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toMatch(/^AUDIT-ID\s+STAGE\s+VERB/);
    expect(r.stdout).toContain(`Summary for ${GKE}: ${lines.length} events`);
    expect(r.stdout).toMatch(/Dropped: \d+ of 400 events/);
    expect(r.stdout).toMatch(/Projected per day at the input's rate/);
    expect(r.stdout).toContain(`Compared with ${SMALL}:`);
    const summaryOnly = run(["policy", "test", "--policy", GKE, "--events", eventsFile, "--summary"]).stdout;
    expect(summaryOnly.startsWith(`Summary for ${GKE}`)).toBe(true);
    const json = JSON.parse(
      run(["policy", "test", "--policy", GKE, "--events", eventsFile, "-o", "json", "--compare", SMALL])
        .stdout,
    ) as {
      items: unknown[];
      summary: { events: number; storedEvents: number; byLevel: Record<string, { events: number }> };
      comparison: { storedEvents: [number, number] };
    };
    expect(json.items).toHaveLength(400);
    const perLevel = Object.values(json.summary.byLevel).reduce((n, t) => n + t.events, 0);
    expect(perLevel).toBe(400);
    expect(json.comparison.storedEvents[0]).toBe(json.summary.storedEvents);
  });

  it("refuses an invalid policy and an unreadable event line, naming where", () => {
    expect(run(["policy", "test", "--policy", INVALID, "--events", eventsFile]).stderr).toContain(
      "rules[1].level",
    );
    const bad = path.join(dir, "bad.log");
    writeFileSync(bad, lines[0] + "\n{not json\n");
    const r = run(["policy", "test", "--policy", GKE, "--events", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: line 2: not JSON`);
  });
});

describe("kubetrail redaction check", () => {
  it("confirms the right value and rejects others", async () => {
    const data = path.join(dir, "data");
    const key = await loadOrCreateRedactionKey(data);
    const tag = tagValue(key, "hunter2", "text");
    expect(run(["redaction", "check", "--data", data, "--value", "hunter2", "--tag", tag])).toMatchObject({
      code: 0,
      stdout: "match\n",
    });
    expect(run(["redaction", "check", "--data", data, "--value", "hunter3", "--tag", tag])).toMatchObject({
      code: 1,
      stdout: "no match\n",
    });
    const b64 = Buffer.from("hunter2").toString("base64");
    expect(
      run(["redaction", "check", "--data", data, "--value-base64", b64, "--tag", tag, "-o", "json"]).stdout,
    ).toBe('{"match":true}\n');
  });

  it("never creates a key, and refuses a non-tag", () => {
    const empty = path.join(dir, "empty");
    const r = run([
      "redaction",
      "check",
      "--data",
      empty,
      "--value",
      "x",
      "--tag",
      "kubetrail-hmac-sha256:AAAA",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no redaction key");
    expect(run(["redaction", "check", "--data", empty, "--value", "x", "--tag", "plain"]).code).toBe(2);
  });
});

it("the CLI is built", () => {
  expect(execFileSync(process.execPath, [cli, "policy", "--help"], { encoding: "utf8" })).toContain("lint");
});
