// `kubetrail serve` wired to a kube-apiserver exactly as `kubetrail apiserver-config` says:
// the config is generated for a free loopback port, and serve runs with its serving
// certificate, accepting the apiserver's client certificate.
import { readFileSync } from "node:fs";
import path from "node:path";
import { runCli } from "../fixtures/cli.js";
import { startServe, type Serve } from "../faults/serve-process.js";
import { freePort } from "./cluster.js";

export interface WiredServe {
  serve: Serve;
  /** The directory apiserver-config wrote (also the apiserver's directory for those files). */
  cfg: string;
}

export async function startWiredServe(
  work: string,
  opts: { configArgs?: string[]; serveArgs?: string[] } = {},
): Promise<WiredServe> {
  const cfg = path.join(work, "apiserver-config");
  const port = await freePort();
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
    ...(opts.configArgs ?? []),
  ]);
  if (gen.code !== 0) throw new Error(`apiserver-config failed: ${gen.stderr}`);
  const serve = await startServe(
    path.join(work, "data"),
    [
      "--tls-cert",
      path.join(cfg, "kubetrail.crt"),
      "--tls-key",
      path.join(cfg, "kubetrail.key"),
      "--client-ca",
      path.join(cfg, "ca.crt"),
      ...(opts.serveArgs ?? []),
    ],
    { ca: readFileSync(path.join(cfg, "ca.crt")), listen: `127.0.0.1:${port}` },
  );
  return { serve, cfg };
}
