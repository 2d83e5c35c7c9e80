// The credential a kubeconfig user presents: a static or file token, a client certificate, or
// one an exec plugin prints (client.authentication.k8s.io ExecCredential), run as kubectl runs it.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ClientError } from "../client/errors.js";
import { JsonClient } from "../http/json-client.js";
import type { ExecConfig, KubeContext } from "./kubeconfig.js";

export interface KubeCredential {
  token?: string;
  certData?: Buffer | string;
  keyData?: Buffer | string;
}

const EXEC_TIMEOUT_MS = 60_000;

function runExec(exec: ExecConfig, server: string): Promise<KubeCredential> {
  const command = exec.command.includes(path.sep) ? path.resolve(exec.dir, exec.command) : exec.command;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const { name, value } of exec.env) env[name] = value;
  env["KUBERNETES_EXEC_INFO"] = JSON.stringify({
    apiVersion: exec.apiVersion,
    kind: "ExecCredential",
    spec: { cluster: { server }, interactive: false },
  });
  return new Promise((resolve, reject) => {
    execFile(command, exec.args, { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (err) {
        reject(
          new ClientError(
            "config",
            `exec credential plugin ${exec.command} failed: ${err.message.split("\n")[0]}`,
          ),
        );
        return;
      }
      let status: Record<string, unknown>;
      try {
        status = (JSON.parse(stdout) as { status?: Record<string, unknown> }).status ?? {};
      } catch {
        reject(
          new ClientError("config", `exec credential plugin ${exec.command} printed no ExecCredential JSON`),
        );
        return;
      }
      const out: KubeCredential = {};
      if (typeof status["token"] === "string") out.token = status["token"];
      if (typeof status["clientCertificateData"] === "string") out.certData = status["clientCertificateData"];
      if (typeof status["clientKeyData"] === "string") out.keyData = status["clientKeyData"];
      if (out.token === undefined && out.certData === undefined)
        reject(
          new ClientError(
            "config",
            `exec credential plugin ${exec.command} gave neither a token nor a certificate`,
          ),
        );
      else resolve(out);
    });
  });
}

/** The context user's credential, as kubectl would present it. */
export async function kubeCredential(ctx: KubeContext): Promise<KubeCredential> {
  if (ctx.exec !== undefined) {
    const fromExec = await runExec(ctx.exec, ctx.server);
    return {
      ...fromExec,
      ...(fromExec.certData === undefined && ctx.certData
        ? { certData: ctx.certData, keyData: ctx.keyData }
        : {}),
    };
  }
  const out: KubeCredential = {};
  if (ctx.token !== undefined) out.token = ctx.token;
  else if (ctx.tokenFile !== undefined) {
    try {
      out.token = readFileSync(ctx.tokenFile, "utf8").trim();
    } catch (err) {
      throw new ClientError(
        "config",
        `tokenFile ${ctx.tokenFile}: cannot read (${(err as NodeJS.ErrnoException).code})`,
      );
    }
  }
  if (ctx.certData !== undefined && ctx.keyData !== undefined) {
    out.certData = ctx.certData;
    out.keyData = ctx.keyData;
  }
  return out;
}

/** A JSON client for the context's apiserver, presenting the context user's credential. */
export async function kubeApiClient(ctx: KubeContext): Promise<JsonClient> {
  const cred = await kubeCredential(ctx);
  return new JsonClient({
    server: ctx.server,
    ...(ctx.caData === undefined ? {} : { ca: ctx.caData }),
    ...(cred.certData === undefined ? {} : { cert: cred.certData, key: cred.keyData }),
    ...(cred.token === undefined ? {} : { token: cred.token }),
    insecure: ctx.insecure,
  });
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The pod's own identity when running in a cluster: the apiserver from KUBERNETES_SERVICE_HOST,
 * the mounted service-account token (re-read on each connection: bound tokens rotate) and CA.
 */
export function inClusterContext(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): KubeContext {
  const host = env["KUBERNETES_SERVICE_HOST"];
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "443";
  if (host === undefined || host === "")
    throw new ClientError(
      "config",
      "not running in a cluster (KUBERNETES_SERVICE_HOST is not set); give --kubeconfig FILE",
    );
  let caData: Buffer;
  try {
    caData = readFileSync(path.join(dir, "ca.crt"));
  } catch {
    throw new ClientError("config", `${dir}/ca.crt: missing (is a service-account token mounted?)`);
  }
  return {
    contextName: "in-cluster",
    clusterName: "in-cluster",
    userName: "service-account",
    namespace: "default",
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    caData,
    insecure: false,
    tokenFile: path.join(dir, "token"),
    files: [],
  };
}
