// `kubetrail rules test` and `kubetrail rules list` as a user runs them: the built CLI in a child process.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, auditEvent, execInto } from "./detect-helpers.js";
import { runCli } from "./fixtures/cli.js";

const SIGMA = join(import.meta.dirname, "fixtures/sigma/good");
let dir: string;
let auditLog: string;
let eventList: string;
const exec = execInto("shop", "api-0", { user: { username: "eve@example.com" } });
const cmDelete = auditEvent({
  verb: "delete",
  objectRef: { resource: "configmaps", namespace: "prod-eu", name: "flags" },
});
const denials = Array.from({ length: 20 }, (_, i) =>
  auditEvent({ user: { username: "scanner" }, responseStatus: { code: 403 }, stageTimestamp: at(i) }),
);

const kubetrail = (...args: string[]) => runCli(args);

afterAll(() => rm(dir, { recursive: true, force: true }));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubetrail-rules-cli-"));
  auditLog = join(dir, "audit.log");
  await writeFile(auditLog, [auditEvent(), exec, ...denials].map((e) => JSON.stringify(e)).join("\n") + "\n");
  eventList = join(dir, "batch.json");
  await writeFile(
    eventList,
    JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: [cmDelete] }, null, 2),
  );
});

describe("kubetrail rules test", () => {
  it("prints one JSON line per alert over log-backend lines and an EventList", async () => {
    const r = await kubetrail(
      "rules",
      "test",
      "--rules",
      SIGMA,
      "--events",
      auditLog,
      eventList,
      "-o",
      "jsonl",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toEqual([
      {
        rule: "pod-exec",
        severity: "medium",
        auditID: exec.auditID,
        user: "eve@example.com",
        succeeded: true,
        responseCode: 200,
      },
      { rule: "forbidden-burst", severity: "medium", auditID: denials[19]?.auditID, user: "scanner" },
      {
        rule: "6f1c2b0e-4a57-4c1e-9a0b-1d2e3f405001",
        severity: "medium",
        auditID: cmDelete.auditID,
        user: "alice@example.com",
      },
    ]);
  });

  it("prints a summary by rule, and honours --rules-config", async () => {
    const config = join(dir, "config.yml");
    await writeFile(config, "rules:\n  pod-exec:\n    allow:\n      users: ['eve@*']\n");
    const r = await kubetrail("rules", "test", "--events", auditLog, "--rules-config", config);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^RULE\s+SEVERITY\s+ALERTS\s+TITLE\nforbidden-burst\s+medium\s+1\s+Burst of forbidden requests\n/,
    );
    expect(r.stdout).not.toMatch(/pod-exec/);
    expect(r.stdout).toMatch(/22 events, 1 alerts\n$/);
  });

  it("with -o json prints the summary and every alert as one document", async () => {
    const r = await kubetrail("rules", "test", "--events", auditLog, eventList, "-o", "json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      events: number;
      alerts: number;
      items: unknown[];
      alertList: unknown[];
    };
    expect(doc).toMatchObject({ events: 23, alerts: 2 });
    expect(doc.items).toEqual([
      // Most severe first, then most alerts, then by name.
      { rule: "forbidden-burst", title: "Burst of forbidden requests", severity: "medium", alerts: 1 },
      { rule: "pod-exec", title: "Exec, attach or port-forward into a pod", severity: "medium", alerts: 1 },
    ]);
    expect(doc.alertList).toHaveLength(2);
  });

  it("rejects a rules directory with a rule it cannot apply, naming the file and the reason", async () => {
    const r = await kubetrail("rules", "test", "--rules", join(SIGMA, "../bad"), "--events", auditLog);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/aggregation\.yml: detection: condition .*aggregations/);
    expect(r.stderr).toMatch(/unknown_modifier\.yml: .*base64offset/);
    expect(r.stdout).toBe("");
  });

  it("names the file and line of a broken event", async () => {
    const broken = join(dir, "broken.log");
    await writeFile(broken, JSON.stringify(exec) + "\n{oops\n");
    const r = await kubetrail("rules", "test", "--events", broken, "-o", "jsonl");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.log:2: not JSON/);
  });
});

describe("kubetrail rules list", () => {
  it("lists built-in and Sigma rules with source and severity", async () => {
    const r = await kubetrail("rules", "list", "--rules", SIGMA, "-o", "json");
    expect(r.code).toBe(0);
    const items = (JSON.parse(r.stdout) as { items: Array<Record<string, unknown>> }).items;
    expect(items.find((i) => i.id === "forbidden-burst")).toMatchObject({
      severity: "medium",
      source: "builtin",
      window: { by: "user.username", threshold: 20, windowMs: 60_000 },
    });
    expect(items.find((i) => i.id === "6f1c2b0e-4a57-4c1e-9a0b-1d2e3f405003")).toMatchObject({
      severity: "critical",
      source: join(SIGMA, "node_proxy_from_outside.yml"),
    });
    expect(items).toHaveLength(14 + 4);
  });
});
