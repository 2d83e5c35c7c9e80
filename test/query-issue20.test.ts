// Issue 20, items 9–11, as a new user meets them: `history deployment/web` without -n when two
// namespaces hold a "web" (each object apart, with its namespace and its own diffs), `top user`
// in the singular (and kubectl's short names), and `--limit all` / `--limit 0` with no hidden
// ceiling (the old one was 100,000), said in --help.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFsLog } from "../src/store/fs/storage.js";
import { runCli } from "./fixtures/cli.js";
import { requestEvents, type EventSpec } from "./query-fixtures.js";

let dir: string;
const MANY = 1200;

function deployment(ns: string, replicas: number, image: string) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: ns },
    spec: { replicas, template: { spec: { containers: [{ name: "web", image }] } } },
  };
}

const SPECS: EventSpec[] = [
  {
    id: "p1",
    time: "2026-11-21T01:00:00Z",
    user: "alice",
    verb: "create",
    resource: "deployments",
    apiGroup: "apps",
    namespace: "prod",
    name: "web",
    code: 201,
    body: deployment("prod", 3, "web:1"),
  },
  {
    id: "s1",
    time: "2026-11-21T01:01:00Z",
    user: "bob",
    verb: "create",
    resource: "deployments",
    apiGroup: "apps",
    namespace: "staging",
    name: "web",
    code: 201,
    body: deployment("staging", 1, "web:2"),
  },
  {
    id: "p2",
    time: "2026-11-21T01:02:00Z",
    user: "alice",
    verb: "update",
    resource: "deployments",
    apiGroup: "apps",
    namespace: "prod",
    name: "web",
    body: deployment("prod", 5, "web:1"),
  },
  {
    id: "s2",
    time: "2026-11-21T01:03:00Z",
    user: "bob",
    verb: "update",
    resource: "deployments",
    apiGroup: "apps",
    namespace: "staging",
    name: "web",
    body: deployment("staging", 1, "web:3"),
  },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-issue20-"));
  const log = await openFsLog(dir, { integrateIntervalMs: 20 });
  const many: EventSpec[] = Array.from({ length: MANY }, (_, i) => ({
    id: `m${i}`,
    time: `2026-11-21T02:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}Z`,
    user: `user-${i % 7}`,
    verb: "get",
    resource: "configmaps",
    namespace: `team-${i % 3}`,
    name: `cm-${i}`,
  }));
  const entries = [...SPECS, ...many].flatMap(requestEvents).map((e) => Buffer.from(JSON.stringify(e)));
  await log.append(entries);
  await log.waitIntegrated(entries.length);
  await log.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) => runCli([...args, "--data", dir]);

describe("item 9: history of a namespaced kind without -n", () => {
  it("shows each object apart with its namespace, each diffed against its own past", async () => {
    const r = await cli("history", "deployment/web");
    expect(r.stderr).toBe("");
    const [prod, staging] = r.stdout.split("\n\n");
    expect(prod).toMatch(/^deployments\.apps\/web in namespace prod:\nTIME/);
    expect(staging).toMatch(/^deployments\.apps\/web in namespace staging:\nTIME/);
    expect(prod).toContain("~ spec.replicas: 3 → 5");
    expect(prod).not.toContain("bob");
    // Diffed against staging's own create, not prod's update in between.
    expect(staging).toContain('~ spec.template.spec.containers[0].image: "web:2" → "web:3"');
    expect(staging).not.toContain("~ spec.replicas");
    const json = JSON.parse((await cli("history", "deploy/web", "-o", "json")).stdout) as {
      items: { namespace: string; event: { auditID: string } }[];
    };
    expect(json.items.map((i) => [i.namespace, i.event.auditID])).toEqual([
      ["prod", "p1"],
      ["prod", "p2"],
      ["staging", "s1"],
      ["staging", "s2"],
    ]);
    // With -n, one object and no heading, as before.
    const one = await cli("history", "deploy/web", "-n", "staging");
    expect(one.stdout).toMatch(/^TIME/);
    expect(one.stdout).not.toContain("alice");
  });
});

describe("item 10: top by user, in any spelling", () => {
  it("accepts singular, plural and short names", async () => {
    const singular = await cli("top", "user", "-o", "json");
    expect(singular.stderr).toBe("");
    expect(singular.code).toBe(0);
    expect((await cli("top", "users", "-o", "json")).stdout).toBe(singular.stdout);
    const ns = await cli("top", "ns");
    expect(ns.stdout).toMatch(/^NAMESPACE\s+COUNT\nteam-0\s+400\n/);
    const bad = await cli("top", "colour");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown dimension "colour" \(use user\(s\), verb\(s\)/);
  });
});

describe("item 11: --limit all", () => {
  it("returns every match with 0 or all and takes limits beyond the old ceiling", async () => {
    const all = await cli("query", "--verb", "get", "--limit", "all", "-o", "jsonl");
    expect(all.stderr).toBe("");
    expect(all.stdout.trimEnd().split("\n")).toHaveLength(MANY);
    expect((await cli("query", "--verb", "get", "--limit", "0", "-o", "jsonl")).stdout).toBe(all.stdout);
    const big = await cli("query", "--verb", "get", "--limit", "1000000", "-o", "jsonl");
    expect(big.code).toBe(0);
    expect(big.stdout).toBe(all.stdout);
    const table = await cli("query", "--verb", "get", "--limit", "all");
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(MANY + 1);
    expect((await cli("query", "--limit", "-3")).stderr).toMatch(
      /--limit: "-3" is not a positive whole number, 0 or all/,
    );
  });

  it("says in --help how to ask for everything and what ceiling remains", async () => {
    for (const command of ["query", "export"]) {
      const help = await runCli([command, "--help"]);
      expect(help.stdout.replace(/\s+/g, " ")).toMatch(
        /--limit <n>.*0 or all: every match, streamed page by page/,
      );
    }
    const history = await runCli(["history", "--help"]);
    expect(history.stdout.replace(/\s+/g, " ")).toMatch(/0 or all: every one, held in memory/);
    const top = await runCli(["top", "--help"]);
    expect(top.stdout.replace(/\s+/g, " ")).toMatch(/at most 10,000 from a server/);
  });
});
