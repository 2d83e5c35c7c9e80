// `kubetrail status` on a real data directory: after imports its numbers are what the log holds
// (entries, checkpoint, index position and lag with the age of the first unindexed entry) and
// its disk parts add up to what du counts; damaged derived files are reported as damaged, not
// fatal; beside a running serve over HTTPS it works from the directory (no lock) while ingest goes
// on, and from the server with the read credential (401 without), the checkpoint checked
// against the pinned key; /metrics has the lag gauges.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  formatMicroTime,
  generateEventLines,
  generateEvents,
  parseMicroTime,
  toEventList,
} from "../bench/gen/events.js";
import type { StatusReport } from "../src/status/collect.js";
import { FsLogFiles } from "../src/store/fs/files.js";
import {
  CosignatureSigner,
  generateCosignatureKey,
  generateNoteKey,
  signNote,
  splitNote,
} from "../src/tlog/index.js";
import { verifyLog } from "../src/verify/verify-log.js";
import { request } from "./fixtures/audit/request.js";
import { startServe, type ServeProcess } from "./fixtures/audit/serve-process.js";
import { runCli } from "./fixtures/cli.js";

const SEED = 2412;
const FIRST = 3000;
const SECOND = 700;

let root: string;
let dir: string;
let secondStart: number;

async function status(args: string[]): Promise<StatusReport> {
  const r = await runCli(["status", ...args, "-o", "json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusReport;
}

/** Allocated bytes of the files `find` selects under `dir`, counted by find, not by kubetrail. */
function findBytes(args: string[]): { bytes: number; files: number } {
  const out = execFileSync("find", [...args, "-type", "f", "-printf", "%b\\n"], { encoding: "utf8" });
  const blocks = out.split("\n").filter((l) => l !== "");
  return { bytes: blocks.reduce((s, b) => s + Number(b) * 512, 0), files: blocks.length };
}

function du(args: string[]): number {
  return Number(execFileSync("du", [...args, dir], { encoding: "utf8" }).split("\t")[0]);
}

beforeAll(async () => {
  console.log(`status: generated events seed ${SEED} (and ${SEED + 1})`);
  root = mkdtempSync(join(tmpdir(), "kubetrail-status-"));
  dir = join(root, "data");
  const first = join(root, "first.jsonl");
  writeFileSync(first, [...generateEventLines({ seed: SEED, count: FIRST })].join("\n") + "\n");
  expect((await runCli(["import", "--data", dir, first])).code).toBe(0);
  // The index is built by the first query; the second import then leaves it behind.
  expect((await runCli(["query", "--data", dir, "--limit", "1"])).code).toBe(0);
  // Dated an hour ago, so the age of the first unindexed entry is known to the second.
  const start = formatMicroTime((Date.now() - 3600_000) * 1000);
  const lines = [...generateEventLines({ seed: SEED + 1, count: SECOND, startTime: start })];
  secondStart = parseMicroTime((JSON.parse(lines[0]!) as { stageTimestamp: string }).stageTimestamp) / 1000;
  const second = join(root, "second.jsonl");
  writeFileSync(second, lines.join("\n") + "\n");
  const r = await runCli(["import", "--data", dir, second]);
  expect(r.stdout).toMatch(new RegExp(`stored ${SECOND},`));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("kubetrail status --data", () => {
  it("reports what the log holds: entries, checkpoint, index lag and its age", async () => {
    const verified = await verifyLog(new FsLogFiles(dir), {
      verifierKey: readFileSync(join(dir, "keys", "verifier.key"), "utf8").trim(),
    });
    expect(verified.ok).toBe(true);
    const s = await status(["--data", dir]);
    expect(s.log.entries).toBe(FIRST + SECOND);
    expect(s.log.entries).toBe(verified.entries);
    expect(s.checkpoint.state).toBe("ok");
    expect(s.checkpoint.size).toBe(FIRST + SECOND);
    const note = readFileSync(join(dir, "checkpoint"), "utf8").split("\n");
    expect(s.checkpoint.rootHash).toBe(note[2]);
    expect(s.checkpoint.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(s.checkpoint.ageSeconds).toBeLessThan(600);
    expect(s.index).toMatchObject({ state: "ok", position: FIRST, lagEntries: SECOND });
    const expectedAge = (Date.now() - secondStart) / 1000;
    expect(Math.abs((s.index.oldestPendingAgeSeconds ?? 0) - expectedAge)).toBeLessThan(60);
    expect(s.detector.state).toBe("not-run");
    expect(s.dedupe.state).toBe("ok");
    expect(s.retention).toEqual({ state: "ok", prunedBefore: 0 });
    expect(s.published.state).toBe("not-run");

    const table = await runCli(["status", "--data", dir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^index\s+ok\s+3,000\s+700\s+/m);
    expect(table.stdout).toMatch(/^total\s+/m);
  });

  it("adds disk use up by part to what du and find count", async () => {
    const s = await status(["--data", dir]);
    const part = (name: string) => s.disk.parts.find((p) => p.part === name)!;
    const sum = s.disk.parts.reduce((t, p) => t + p.bytes, 0);
    expect(sum).toBe(s.disk.total.bytes);
    expect(s.disk.total.bytes).toBe(du(["-sB1"]));
    expect(s.disk.total.apparentBytes).toBe(du(["-sb"]));
    expect(s.disk.total.files).toBe(findBytes([dir]).files);
    expect(part("wal")).toMatchObject(findBytes([join(dir, "wal")]));
    expect(part("bundles-compressed")).toMatchObject(
      findBytes([join(dir, "tile", "entries"), "-name", "*.zst"]),
    );
    expect(part("bundles-compressed").files + part("bundles-plain").files).toBe(
      findBytes([join(dir, "tile", "entries")]).files,
    );
    expect(part("hash-tiles")).toMatchObject(
      findBytes([join(dir, "tile"), "-path", join(dir, "tile", "entries"), "-prune", "-o"]),
    );
    expect(part("index")).toMatchObject(findBytes([dir, "-maxdepth", "1", "-name", "index.db*"]));
    expect(part("index").files).toBeGreaterThan(0);
    expect(part("dedupe")).toMatchObject(findBytes([join(dir, "dedupe")]));
    expect(part("checkpoints").files).toBe(1);
    // The bundles hold every entry: more than a byte per entry, whichever form they rest in.
    expect(part("bundles-compressed").bytes + part("bundles-plain").bytes).toBeGreaterThan(FIRST + SECOND);
  });

  it("catches up: after a query indexes the rest, the lag is 0", async () => {
    const copy = join(root, "caught-up");
    cpSync(dir, copy, { recursive: true });
    expect((await runCli(["query", "--data", copy, "--limit", "1"])).code).toBe(0);
    const s = await status(["--data", copy]);
    expect(s.index).toMatchObject({ state: "ok", position: FIRST + SECOND, lagEntries: 0 });
    expect(s.index.oldestPendingAgeSeconds).toBeNull();
  });

  it("reports damaged derived files as damaged, and nothing else fails", async () => {
    const copy = join(root, "damaged");
    cpSync(dir, copy, { recursive: true });
    for (const suffix of ["-wal", "-shm"]) rmSync(join(copy, `index.db${suffix}`), { force: true });
    writeFileSync(join(copy, "index.db"), "this is not an SQLite database ".repeat(200));
    writeFileSync(join(copy, "detect.position"), "forty-two\n");
    writeFileSync(join(copy, "dedupe", "manifest.json"), "{ not json");
    mkdirSync(join(copy, "guard"));
    writeFileSync(join(copy, "guard", "namespaces.json"), "[1, 2");
    const s = await status(["--data", copy]);
    expect(s.index.state).toBe("damaged");
    expect(s.index.message).toMatch(/index\.db: .*not a database/);
    expect(s.detector.state).toBe("damaged");
    expect(s.detector.message).toMatch(/detect\.position/);
    expect(s.dedupe.state).toBe("damaged");
    expect(s.guard.state).toBe("damaged");
    expect(s.checkpoint.state).toBe("ok");
    expect(s.log.entries).toBe(FIRST + SECOND);
    const table = await runCli(["status", "--data", copy]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^index\s+damaged\s/m);
    // The index is derived: the next reader rebuilds it, and status says so.
    expect((await runCli(["query", "--data", copy, "--limit", "1"])).code).toBe(0);
    expect((await status(["--data", copy])).index).toMatchObject({ state: "ok", lagEntries: 0 });
  });

  it("reports the checkpoint serve published with cosignatures, how far behind, and by whom", async () => {
    const copy = join(root, "published");
    cpSync(dir, copy, { recursive: true });
    const logNote = readFileSync(join(copy, "checkpoint"), "utf8");
    const { text, signatures } = splitNote(logNote);
    // The file serve keeps (DATA/published-checkpoint): the log's checkpoint with a witness's
    // real cosignature beside the log's own signature.
    const witness = CosignatureSigner.fromKey(generateCosignatureKey("w1.status.test").signerKey);
    writeFileSync(join(copy, "published-checkpoint"), await signNote(text, [witness], signatures));
    const s = await status(["--data", copy]);
    expect(s.published).toMatchObject({
      state: "ok",
      size: FIRST + SECOND,
      behind: 0,
      cosigners: ["w1.status.test"],
    });
    expect(s.published.ageSeconds).toBeLessThan(600);
    const table = await runCli(["status", "--data", copy]);
    expect(table.stdout).toMatch(/^published\s+ok\s+3,700\s+0\s+-\s+age .*, cosigned by w1\.status\.test$/m);

    // Held back at an older size (failMode closed, short of the quorum): the log is ahead of it.
    const [origin, , rootHash] = text.split("\n");
    const older = `${origin}\n${FIRST}\n${rootHash}\n`;
    writeFileSync(join(copy, "published-checkpoint"), await signNote(older, [witness], signatures));
    expect((await status(["--data", copy])).published).toMatchObject({ size: FIRST, behind: SECOND });

    writeFileSync(join(copy, "published-checkpoint"), "not a note");
    const damaged = await status(["--data", copy]);
    expect(damaged.published.state).toBe("damaged");
    expect(damaged.published.message).toMatch(/published-checkpoint: /);
    expect(damaged.checkpoint.state).toBe("ok");
    // A FIFO in its place would block a plain read forever.
    rmSync(join(copy, "published-checkpoint"));
    execFileSync("mkfifo", [join(copy, "published-checkpoint")]);
    expect((await status(["--data", copy])).published).toMatchObject({
      state: "damaged",
      message: expect.stringMatching(/not a regular file/),
    });
  });

  it("refuses a directory that is not a log", async () => {
    const r = await runCli(["status", "--data", root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a kubetrail data directory/);
  });
});

describe("kubetrail status beside a running serve", () => {
  let serve: ServeProcess;
  let live: string;
  let ca: string;
  let vkey: string;
  let ingestToken: string;
  const remote = (...extra: string[]): string[] => [
    "--server",
    `https://127.0.0.1:${serve.port}`,
    "--ca",
    join(live, "tls", "ca.crt"),
    ...extra,
  ];
  const post = (seed: number, count: number) =>
    request(serve.port, {
      method: "POST",
      path: "/v1/audit/webhook",
      ca,
      body: JSON.stringify(toEventList(generateEvents({ seed, count }))),
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ingestToken}` },
    });

  beforeAll(async () => {
    live = join(root, "live");
    cpSync(dir, live, { recursive: true });
    serve = await startServe(["--data", live, "--listen", "127.0.0.1:0", "--integrate-interval", "100ms"]);
    ca = readFileSync(join(live, "tls", "ca.crt"), "utf8");
    vkey = readFileSync(join(live, "keys", "verifier.key"), "utf8").trim();
    ingestToken = readFileSync(join(live, "ingest-token"), "utf8").trim();
  });

  afterAll(async () => {
    if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  });

  it("reads the directory while ingest goes on, and the server's report with the read token", async () => {
    // status --data and a webhook batch at once: no lock is taken, the batch is acknowledged.
    const [local, posted] = await Promise.all([status(["--data", live]), post(SEED + 2, 500)]);
    expect(posted.status).toBe(200);
    expect(local.log.entries).toBeGreaterThanOrEqual(FIRST + SECOND);

    const want = FIRST + SECOND + 500;
    let s: StatusReport | undefined;
    for (let i = 0; i < 200; i++) {
      s = await status(remote("--token-file", join(live, "read-token"), "--key", vkey));
      if (s.index.lagEntries === 0 && s.detector.lagEntries === 0 && s.checkpoint.size === s.log.entries)
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s!.log.from).toBe("serve");
    // The detector may have appended alerts after the events.
    expect(s!.log.entries).toBeGreaterThanOrEqual(want);
    expect(s!.checkpoint.size).toBe(s!.log.entries);
    expect(s!.index).toMatchObject({ state: "ok", position: s!.log.entries, lagEntries: 0 });
    expect(s!.detector).toMatchObject({ state: "ok", lagEntries: 0 });
    expect(s!.disk.total.bytes).toBe(s!.disk.parts.reduce((t, p) => t + p.bytes, 0));
    expect(s!.disk.parts.find((p) => p.part === "detector")!.files).toBe(1);

    // The directory read beside it agrees on the signed checkpoint.
    const after = await status(["--data", live]);
    expect(after.checkpoint.size).toBe(s!.checkpoint.size);
    expect(after.checkpoint.rootHash).toBe(s!.checkpoint.rootHash);

    const table = await runCli([
      "status",
      ...remote("--token-file", join(live, "read-token"), "--key", vkey),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^detector\s+ok\s/m);
  });

  it("needs the read credential (401 without), and checks the checkpoint against the pinned key", async () => {
    const bare = await request(serve.port, { path: "/v1/status", ca });
    expect(bare.status).toBe(401);
    const asIngest = await request(serve.port, {
      path: "/v1/status",
      ca,
      headers: { Authorization: `Bearer ${ingestToken}` },
    });
    expect(asIngest.status).toBe(403);
    const noToken = await runCli(["status", ...remote("--key", vkey)]);
    expect(noToken.code).toBe(1);
    expect(noToken.stdout).toBe("");
    expect(noToken.stderr).toMatch(/401|credential/);
    // A key of the same name that did not sign it.
    const forged = generateNoteKey(vkey.split("+")[0]!).verifierKey;
    const wrong = await runCli([
      "status",
      ...remote("--token-file", join(live, "read-token"), "--key", forged),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/not signed by the pinned key|verifier key/);
  });

  it("exports the index and detector lag on /metrics", async () => {
    const r = await request(serve.port, { path: "/metrics", ca });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^kubetrail_index_lag_entries \d+$/m);
    expect(r.body).toMatch(/^kubetrail_detector_lag_entries \d+$/m);
  });
});
