// `kubetrail import --server`: backfill into a running serve through its authenticated
// webhook API — same dedupe and the same stored bytes as a local import, resumable, and
// seen by the running detector without a restart.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEventLines, toLogLine } from "../bench/gen/events.js";
import { ImportState } from "../src/ingest/import-state.js";
import { importToServer } from "../src/ingest/remote-import.js";
import { ingestClient } from "../src/cli/ingest-client.js";
import { auditEvent } from "./detect-helpers.js";
import {
  readLog,
  removeDir,
  requireBuiltCli,
  startServe,
  tempDir,
  type Serve,
} from "./faults/serve-process.js";
import { runCli } from "./fixtures/cli.js";

const SEED = 2020;
let work: string;
let serve: Serve;
let lines: string[];

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir("import-server");
  serve = await startServe(path.join(work, "data"));
  console.log(`import-server: events generated with seed ${SEED}`);
  lines = [...generateEventLines({ seed: SEED, count: 1000 })];
});

afterAll(async () => {
  await serve?.kill("SIGTERM");
  if (work) removeDir(work);
});

const creds = () => [
  "--token-file",
  path.join(serve.dataDir, "ingest-token"),
  "--ca",
  path.join(serve.dataDir, "tls", "ca.crt"),
];

interface Summary {
  read: number;
  stored: number;
  duplicates: number;
  rejectedCount: number;
  rejected: { file: string; line: number; reason: string }[];
  resumedLines: number;
  interrupted: boolean;
}

async function importToServe(files: string[], stateFile: string, extra: string[] = []) {
  const r = await runCli([
    "import",
    "--server",
    serve.url,
    ...creds(),
    "--state-file",
    stateFile,
    "-o",
    "json",
    ...extra,
    ...files,
  ]);
  return { ...r, summary: (r.code === 0 || r.code === 1 ? JSON.parse(r.stdout) : undefined) as Summary };
}

describe("import --server", () => {
  it("stores each event once, resumes where it stopped, and dedupes against what the server has", async () => {
    const file = path.join(work, "audit.log");
    writeFileSync(file, lines.slice(0, 600).join("\n") + "\n");
    const state = path.join(work, "state.json");
    const first = await importToServe([file], state);
    expect(first.code, first.stderr).toBe(0);
    expect(first.summary).toMatchObject({
      read: 600,
      stored: 600,
      duplicates: 0,
      rejectedCount: 0,
      resumedLines: 0,
    });

    // The live file grew: only the new lines are sent.
    appendFileSync(file, lines.slice(600).join("\n") + "\n");
    const second = await importToServe([file], state);
    expect(second.code, second.stderr).toBe(0);
    expect(second.summary).toMatchObject({ read: 400, stored: 400, duplicates: 0, resumedLines: 600 });
    expect(second.stderr).toContain("resuming after line 600");

    // Without the progress file, everything is sent again and the server's dedupe drops it.
    const fresh = await importToServe([file], path.join(work, "other-state.json"));
    expect(fresh.summary).toMatchObject({ read: 1000, stored: 0, duplicates: 1000 });
  });

  it("rejects bad lines with file and line, sending the rest", async () => {
    const file = path.join(work, "mixed.log");
    const good = [...generateEventLines({ seed: SEED + 1, count: 3 })];
    writeFileSync(file, [good[0], "{not json", good[1], '{"kind":"Event"}', good[2]].join("\n") + "\n");
    const r = await importToServe([file], path.join(work, "mixed-state.json"));
    expect(r.code).toBe(1);
    expect(r.summary).toMatchObject({ read: 5, stored: 3, rejectedCount: 2 });
    expect(r.summary.rejected.map((x) => x.line)).toEqual([2, 4]);
  });

  it("stops between batches when asked, keeps its progress, and a second run finishes", async () => {
    const file = path.join(work, "stop.log");
    writeFileSync(file, [...generateEventLines({ seed: SEED + 2, count: 500 })].join("\n") + "\n");
    const client = ingestClient(serve.url, {
      tokenFile: path.join(serve.dataDir, "ingest-token"),
      ca: path.join(serve.dataDir, "tls", "ca.crt"),
    });
    const stateFile = path.join(work, "stop-state.json");
    try {
      const opts = async (stopAfterFirst: boolean) => ({
        batchSize: 100,
        maxBatchBytes: 1 << 22,
        retryForMs: 5000,
        state: await ImportState.open(stateFile, new URL(serve.url).origin, () => undefined),
        stopRequested: () => stopAfterFirst,
      });
      const stopped = await importToServer([file], client.post, await opts(true));
      expect(stopped).toMatchObject({ interrupted: true, stored: 100 });
      const rest = await importToServer([file], client.post, await opts(false));
      expect(rest).toMatchObject({ interrupted: false, resumedLines: 100, stored: 400, duplicates: 0 });
    } finally {
      client.close();
    }
  });

  it("the running detector alerts on imported events, without a restart", async () => {
    const binding = auditEvent({
      verb: "create",
      user: { username: "mallory@example.com", groups: ["system:authenticated"] },
      objectRef: { resource: "clusterrolebindings", apiGroup: "rbac.authorization.k8s.io", name: "backdoor" },
      requestObject: { roleRef: { kind: "ClusterRole", name: "cluster-admin" }, subjects: [] },
    });
    const file = path.join(work, "binding.log");
    writeFileSync(file, toLogLine(binding) + "\n");
    const r = await importToServe([file], path.join(work, "binding-state.json"));
    expect(r.summary).toMatchObject({ stored: 1 });
    const deadline = Date.now() + 20_000;
    while (!serve.output().includes(binding.auditID) || !serve.output().includes("privileged-binding")) {
      if (Date.now() > deadline)
        throw new Error(`no alert for the imported binding:\n${serve.output().slice(-3000)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  });

  it("needs a credential the server accepts, and never prints it", async () => {
    const file = path.join(work, "credential.log");
    writeFileSync(file, lines.slice(0, 10).join("\n") + "\n");
    const none = await runCli(["import", "--server", serve.url, file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--server needs a credential");
    const tokenFile = path.join(work, "wrong-token");
    writeFileSync(tokenFile, "not-the-token-7f3a9c\n");
    const wrong = await runCli([
      "import",
      "--server",
      serve.url,
      "--token-file",
      tokenFile,
      "--ca",
      path.join(serve.dataDir, "tls", "ca.crt"),
      "--state-file",
      path.join(work, "wrong-state.json"),
      file,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the credential \(40[13]/);
    expect(wrong.stderr + wrong.stdout).not.toContain("not-the-token-7f3a9c");
    const ingestToken = readFileSync(path.join(serve.dataDir, "ingest-token"), "utf8").trim();
    expect(wrong.stderr + wrong.stdout).not.toContain(ingestToken);
  });

  it("gives up on a server that stays down, keeping progress, and says how to resume", async () => {
    const file = path.join(work, "down.log");
    writeFileSync(file, lines.slice(0, 10).join("\n") + "\n");
    const r = await runCli([
      "import",
      "--server",
      "https://127.0.0.1:1",
      ...creds(),
      "--retry-for",
      "1",
      "--state-file",
      path.join(work, "down-state.json"),
      file,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unreachable .*gave up after \d+ s .*run the same command again to resume/);
  });

  it("points at --server when the data directory is in use", async () => {
    const file = path.join(work, "in-use.log");
    writeFileSync(file, lines.slice(0, 10).join("\n") + "\n");
    const r = await runCli(["import", "--data", serve.dataDir, file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--server URL");
  });
  // Last: it stops the server to read its log.
  it("stored the bytes a local import (and the apiserver's webhook) stores", async () => {
    const file = path.join(work, "audit.log");
    const local = path.join(work, "local");
    const r = await runCli(["import", "--data", local, file, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const localEntries = (await readLog(local)).map((e) => Buffer.from(e.bytes).toString("utf8"));
    expect(localEntries).toHaveLength(1000);
    expect(await serve.kill("SIGTERM")).toBe(0);
    const served = new Set((await readLog(serve.dataDir)).map((e) => Buffer.from(e.bytes).toString("utf8")));
    for (const e of localEntries) expect(served.has(e)).toBe(true);
  });
});
