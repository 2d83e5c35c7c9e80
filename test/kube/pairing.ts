// kubetrail paired with a test apiserver exactly as `kubetrail apiserver-config` says: its
// certificates, webhook kubeconfig, audit policy and flags, for kubetrail listening on `port`.
import path from "node:path";
import { expect } from "vitest";
import { runCli } from "../fixtures/cli.js";

/** Runs apiserver-config for https://127.0.0.1:PORT into WORK/apiserver-config; returns that directory. */
export async function apiserverConfig(work: string, port: number): Promise<string> {
  const cfg = path.join(work, "apiserver-config");
  const gen = await runCli([
    "apiserver-config",
    "--server",
    `https://127.0.0.1:${port}`,
    "--out",
    cfg,
    "--apiserver-dir",
    cfg,
    // The tests' HTTPS client names the host "localhost".
    "--san",
    "localhost",
  ]);
  expect(gen.code, gen.stderr).toBe(0);
  return cfg;
}

/** serve's flags for the certificates apiserver-config wrote. */
export function pairedServeFlags(cfg: string): string[] {
  return [
    "--tls-cert",
    path.join(cfg, "kubetrail.crt"),
    "--tls-key",
    path.join(cfg, "kubetrail.key"),
    "--client-ca",
    path.join(cfg, "ca.crt"),
  ];
}
