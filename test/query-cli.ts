// Runs the built CLI (dist/cli/main.js) as a child process, asynchronously so an in-process
// server can answer it.
import { spawn } from "node:child_process";
import { CLI } from "./fixtures/cli.js";

export { CLI };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** `kubetrail verify` against a server's static log on 127.0.0.1:port, trusting `caFile`. */
export function verifyRemote(port: number, key: string, caFile: string): Promise<CliResult> {
  return runCli(["verify", `https://127.0.0.1:${port}/log/`, "--key", key, "--ca", caFile]);
}
