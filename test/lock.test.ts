// The writer's lock with real processes: it refuses a second writer naming the holder, dies
// with its holder (kill -9), and a LOCK file left with a live process's PID blocks nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openFsLog } from "../src/store/fs/storage.js";
import { requireBuiltCli } from "./faults/serve-process.js";
import { runCli } from "./fixtures/cli.js";

const children: ChildProcess[] = [];
const dirs: string[] = [];

function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "kubetrail-lock-"));
  dirs.push(d);
  return d;
}

/** A child that opens the log in `dir` and holds it; resolves once it has. */
async function holder(dir: string): Promise<ChildProcess> {
  requireBuiltCli();
  const child = spawn(process.execPath, ["test/fixtures/hold-log.mjs", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("READY")) resolve();
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => reject(new Error(`holder exited (${code}) before READY:\n${out}`)));
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the writer's lock", () => {
  it("refuses a second writer, naming the holder's pid, command and start time", async () => {
    const dir = tmpDir();
    const child = await holder(dir);
    const err = (await openFsLog(dir).then(
      (log) => log.close().then(() => undefined),
      (e: unknown) => e,
    )) as { code?: string; message?: string } | undefined;
    expect(err?.code).toBe("locked");
    expect(err?.message).toContain(`process ${child.pid}`);
    expect(err?.message).toContain("hold-log.mjs");
    expect(err?.message).toMatch(/running since \d{4}-\d\d-\d\dT/);

    // The CLI says the same and exits non-zero.
    const r = await runCli(["append", "--data", dir], '{"a":1}\n');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`process ${child.pid}`);
  });

  it("is free as soon as its holder is killed with SIGKILL", async () => {
    const dir = tmpDir();
    for (let round = 0; round < 3; round++) {
      const child = await holder(dir);
      await expect(openFsLog(dir)).rejects.toMatchObject({ code: "locked" });
      child.kill("SIGKILL");
      await killed(child);
      const log = await openFsLog(dir);
      await log.append([Buffer.from(JSON.stringify({ round }))]);
      await log.close();
    }
  });

  it("ignores a LOCK file naming a live process that holds no lock", async () => {
    const dir = tmpDir();
    const log0 = await openFsLog(dir);
    await log0.close();
    // What the PID-file lock left behind after a crash, once the PID was reused.
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(sleeper);
    writeFileSync(path.join(dir, "LOCK"), `${sleeper.pid}\n`);
    const log = await openFsLog(dir);
    expect(log.size()).toBe(0);
    await log.close();
  });
});
