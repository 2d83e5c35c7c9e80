// kubetrail servers (witness, mirror, serve) as child processes of a bench, started from the
// compiled CLI (build/src/cli/main.js) on a given loopback port and ready once /healthz answers.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { repoRoot } from "./paths.js";

export const BENCH_CLI = path.join(repoRoot, "build", "src", "cli", "main.js");

export interface CliServer {
  pid: number;
  port: number;
  url: string;
  /** The CA of its self-signed serving certificate (DATA/tls/ca.crt). */
  ca: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

function healthy(port: number, ca: string, probe: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: "127.0.0.1", port, path: probe, ca, servername: "localhost", timeout: 1000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
  });
}

/**
 * `kubetrail <args…> --listen 127.0.0.1:<port>` over HTTPS, its CA under dataDir/tls/, ready when
 * `probe` answers 200 (serve: /readyz, once its log is open).
 */
export async function startCliServer(
  args: readonly string[],
  dataDir: string,
  probe = "/healthz",
): Promise<CliServer> {
  if (!existsSync(BENCH_CLI)) throw new Error(`${BENCH_CLI} missing: run npm run bench:build`);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    // execArgv passes through, so `node --cpu-prof build/bench/witness.js` profiles the servers too.
    [...process.execArgv, BENCH_CLI, ...args, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const deadline = Date.now() + 120_000;
  const caFile = path.join(dataDir, "tls", "ca.crt");
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kubetrail ${args[0]} exited with ${child.exitCode}`);
    if (existsSync(caFile) && (await healthy(port, readFileSync(caFile, "utf8"), probe))) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`kubetrail ${args[0]} not healthy within 120 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    port,
    url: `https://127.0.0.1:${port}/`,
    ca: readFileSync(caFile, "utf8"),
    child,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
