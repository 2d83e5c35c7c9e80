// `serve` on a terminal prints readable lines, and JSON lines when asked or when stdout is not
// a terminal. The terminal is a real pseudo-terminal: util-linux script(1) runs serve on one.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { requireBuiltCli } from "./faults/serve-process.js";
import { CLI } from "./fixtures/cli.js";
import { ed25519 } from "../src/tlog/ed25519.js";

const running: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of running.splice(0)) c.kill("SIGKILL");
  // serve survives the terminal's hangup (SIGHUP reloads its policies), and script(1) runs it
  // in a session of its own: it is found by its data directory and killed too.
  for (const d of dirs.splice(0)) {
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(d)) process.kill(Number(pid), "SIGKILL");
      } catch {
        // Gone meanwhile, or not ours to read.
      }
    }
    rmSync(d, { recursive: true, force: true });
  }
});

/** Runs serve with `args` under a terminal (or a pipe) until it says it is ready; returns what it printed. */
async function serveOutput(args: string[], terminal: boolean): Promise<string[]> {
  requireBuiltCli();
  const dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-logfmt-"));
  dirs.push(dir);
  const serve = [
    process.execPath,
    CLI,
    "serve",
    "--data",
    dir,
    "--listen",
    "127.0.0.1:0",
    "--no-detect",
    ...args,
  ];
  const child = terminal
    ? spawn("script", ["-qfec", serve.map((a) => `'${a}'`).join(" "), "/dev/null"], {
        stdio: ["pipe", "pipe", "pipe"],
      })
    : spawn(serve[0]!, serve.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  running.push(child);
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve not ready within 30 s:\n${out}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (/"msg":"ready"| INFO {2}ready /.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => reject(new Error(`exited ${code}:\n${out}`)));
  });
  return out.split(/\r?\n/).filter((l) => l.trim() !== "");
}

describe("serve's log format", () => {
  it("prints readable lines on a terminal", async () => {
    const lines = await serveOutput([], true);
    expect(
      lines.some((l) => l.trimStart().startsWith("{")),
      lines.join("\n"),
    ).toBe(false);
    expect(lines.join("\n")).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}listening address=127\.0\.0\.1:\d+ url=https:/m,
    );
  });

  it("prints JSON lines on a terminal with --log-format json, and on a pipe", async () => {
    for (const [args, terminal] of [
      [["--log-format", "json"], true],
      [[], false],
    ] as const) {
      const lines = await serveOutput([...args], terminal);
      for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
      const listening = lines
        .map((l) => JSON.parse(l) as { msg: string; ed25519?: string })
        .find((r) => r.msg === "listening");
      // The line says which Ed25519 the checkpoints are signed with (docs/witnesses.md).
      // serve makes the same choice as this process: same addon, same KUBETRAIL_ED25519.
      expect(listening?.ed25519).toBe(ed25519.name);
    }
  });
});
