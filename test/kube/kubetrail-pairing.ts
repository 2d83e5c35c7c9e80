// A real `kubetrail serve` set up exactly as `kubetrail apiserver-config` tells an operator to:
// its serving certificate, accepting the apiserver's client certificate, at the address the
// generated webhook kubeconfig names; plus the apiserver flags it prints (for startCluster).
import { readFileSync } from "node:fs";
import path from "node:path";
import { apiserverFlags } from "../../src/cli/apiserver-config.js";
import { startServe, type Serve } from "../faults/serve-process.js";
import { runCli } from "../fixtures/cli.js";
import { freePort, type WebhookMode } from "./cluster.js";

export interface Pairing {
  /** The --out directory of apiserver-config (also its --apiserver-dir). */
  configDir: string;
  serve: Serve;
  /** kube-apiserver flags as apiserver-config prints them (mode as asked). */
  apiserverArgs: string[];
  /** import/verify credentials of the apiserver's client certificate, and the CA. */
  clientCertArgs: string[];
}

/**
 * Runs `apiserver-config --kubernetes-version 1.20` for https://127.0.0.1:PORT into
 * `work`/apiserver-config (also its --apiserver-dir) and returns that directory. The serving
 * certificate also names localhost, the host the tests' HTTPS client uses.
 */
export async function apiserverConfig(work: string, port: number, extraArgs: string[] = []): Promise<string> {
  const configDir = path.join(work, "apiserver-config");
  const gen = await runCli([
    "apiserver-config",
    "--server",
    `https://127.0.0.1:${port}`,
    "--out",
    configDir,
    "--apiserver-dir",
    configDir,
    "--san",
    "localhost",
    "--kubernetes-version",
    "1.20",
    ...extraArgs,
  ]);
  if (gen.code !== 0) throw new Error(`apiserver-config failed (${gen.code}): ${gen.stderr}`);
  return configDir;
}

/** serve's flags for the certificates apiserver-config wrote into `configDir`. */
export function pairedServeFlags(configDir: string): string[] {
  const file = (name: string) => path.join(configDir, name);
  return [
    "--tls-cert",
    file("kubetrail.crt"),
    "--tls-key",
    file("kubetrail.key"),
    "--client-ca",
    file("ca.crt"),
  ];
}

export interface PairingOptions {
  /** The webhook mode the printed apiserver flags ask for (default batch). */
  mode?: WebhookMode;
  /** More apiserver-config options. */
  configArgs?: string[];
  /** More serve options. */
  serveArgs?: string[];
}

/** apiserver-config into `work`/apiserver-config, then serve with its files in `work`/data. */
export async function startPairedServe(work: string, opts: PairingOptions = {}): Promise<Pairing> {
  const mode = opts.mode ?? "batch";
  const port = await freePort();
  const configDir = await apiserverConfig(work, port, opts.configArgs);
  const file = (name: string) => path.join(configDir, name);
  const serve = await startServe(
    path.join(work, "data"),
    [...pairedServeFlags(configDir), ...(opts.serveArgs ?? [])],
    {
      ca: readFileSync(file("ca.crt")),
      listen: `127.0.0.1:${port}`,
    },
  );
  return {
    configDir,
    serve,
    apiserverArgs: apiserverFlags(configDir).map((f) =>
      f.startsWith("--audit-webhook-mode=") ? `--audit-webhook-mode=${mode}` : f,
    ),
    clientCertArgs: [
      "--client-cert",
      file("apiserver-client.crt"),
      "--client-key",
      file("apiserver-client.key"),
      "--ca",
      file("ca.crt"),
    ],
  };
}
