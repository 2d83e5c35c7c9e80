// Reading a kubeconfig the way kubectl does: the files of --kubeconfig, else of KUBECONFIG
// (merged, first one wins per name), else ~/.kube/config; the context from --context or
// current-context; relative file paths resolved against the file that names them. Credentials
// are returned in memory for the one connection that needs them and never written anywhere.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readYamlFile } from "../yaml/read-file.js";
import { ClientError } from "../client/errors.js";

export interface ExecConfig {
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  apiVersion: string;
  /** Directory of the kubeconfig that named it: a relative command runs from there. */
  dir: string;
}

/** One context, with its cluster and user, resolved. */
export interface KubeContext {
  contextName: string;
  clusterName: string;
  userName: string;
  /** The context's namespace, or "default". */
  namespace: string;
  server: string;
  caData?: Buffer;
  insecure: boolean;
  tlsServerName?: string;
  token?: string;
  tokenFile?: string;
  certData?: Buffer;
  keyData?: Buffer;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  /** The kubeconfig files read, in order. */
  files: string[];
}

interface Named {
  name: string;
  value: Record<string, unknown>;
  dir: string;
}

interface Merged {
  currentContext?: string;
  contexts: Map<string, Named>;
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  files: string[];
}

/** The kubeconfig files kubectl would read, in order. */
export function kubeconfigFiles(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (explicit !== undefined && explicit !== "") return [explicit];
  const fromEnv = env["KUBECONFIG"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv.split(path.delimiter).filter((f) => f !== "");
  return [path.join(env["HOME"] || os.homedir(), ".kube", "config")];
}

function bad(file: string, what: string): ClientError {
  return new ClientError("config", `kubeconfig ${file}: ${what}`);
}

function mapping(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function readMerged(files: string[], mustExist: boolean): Merged {
  const merged: Merged = { contexts: new Map(), clusters: new Map(), users: new Map(), files: [] };
  for (const file of files) {
    const read = readYamlFile(file);
    if (!read.ok) throw bad(file, read.error);
    if ("missing" in read) {
      // kubectl skips missing files named by KUBECONFIG but not one named by --kubeconfig.
      if (!mustExist) continue;
      throw bad(file, "cannot read (ENOENT)");
    }
    const d = mapping(read.doc);
    merged.files.push(file);
    const dir = path.dirname(path.resolve(file));
    if (
      merged.currentContext === undefined &&
      typeof d["current-context"] === "string" &&
      d["current-context"] !== ""
    )
      merged.currentContext = d["current-context"];
    for (const [key, into] of [
      ["contexts", merged.contexts],
      ["clusters", merged.clusters],
      ["users", merged.users],
    ] as const) {
      const list = d[key] ?? [];
      if (!Array.isArray(list)) throw bad(file, `${key} is not a list`);
      for (const item of list) {
        const m = mapping(item);
        const name = m["name"];
        if (typeof name !== "string") throw bad(file, `an entry of ${key} has no name`);
        const inner = key === "contexts" ? m["context"] : key === "clusters" ? m["cluster"] : m["user"];
        if (!into.has(name)) into.set(name, { name, value: mapping(inner), dir });
      }
    }
  }
  return merged;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function fileOrData(entry: Named, fileKey: string, dataKey: string, what: string): Buffer | undefined {
  const data = str(entry.value[dataKey]);
  if (data !== undefined) return Buffer.from(data, "base64");
  const file = str(entry.value[fileKey]);
  if (file === undefined) return undefined;
  const full = path.resolve(entry.dir, file);
  try {
    return readFileSync(full);
  } catch (err) {
    throw new ClientError(
      "config",
      `${what} ${full} (${fileKey} of "${entry.name}"): cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** Resolves a context of the kubeconfig; errors name the file and what was missing. */
export function loadKubeContext(opts: {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
}): KubeContext {
  const files = kubeconfigFiles(opts.kubeconfig, opts.env);
  const merged = readMerged(files, opts.kubeconfig !== undefined && opts.kubeconfig !== "");
  const where = files.join(path.delimiter);
  if (merged.files.length === 0)
    throw new ClientError("config", `no kubeconfig found (looked at ${where}); give --kubeconfig FILE`);
  const contextName = opts.context ?? merged.currentContext;
  if (contextName === undefined)
    throw new ClientError("config", `kubeconfig ${where}: no current-context; give --context NAME`);
  const ctx = merged.contexts.get(contextName);
  if (ctx === undefined) throw new ClientError("config", `kubeconfig ${where}: no context "${contextName}"`);
  const clusterName = str(ctx.value["cluster"]);
  const userName = str(ctx.value["user"]) ?? "";
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
  if (clusterName === undefined || cluster === undefined)
    throw new ClientError("config", `kubeconfig ${where}: context "${contextName}" names no known cluster`);
  const server = str(cluster.value["server"]);
  if (server === undefined)
    throw new ClientError("config", `kubeconfig ${where}: cluster "${clusterName}" has no server`);
  const user = merged.users.get(userName) ?? { name: userName, value: {}, dir: cluster.dir };
  const out: KubeContext = {
    contextName,
    clusterName,
    userName,
    namespace: str(ctx.value["namespace"]) ?? "default",
    server,
    insecure: cluster.value["insecure-skip-tls-verify"] === true,
    files: merged.files,
  };
  const caData = fileOrData(cluster, "certificate-authority", "certificate-authority-data", "CA file");
  if (caData !== undefined) out.caData = caData;
  const tlsServerName = str(cluster.value["tls-server-name"]);
  if (tlsServerName !== undefined) out.tlsServerName = tlsServerName;
  const certData = fileOrData(user, "client-certificate", "client-certificate-data", "client certificate");
  const keyData = fileOrData(user, "client-key", "client-key-data", "client key");
  if (certData !== undefined) out.certData = certData;
  if (keyData !== undefined) out.keyData = keyData;
  const token = str(user.value["token"]);
  if (token !== undefined) out.token = token;
  const tokenFile = str(user.value["tokenFile"]);
  if (tokenFile !== undefined) out.tokenFile = path.resolve(user.dir, tokenFile);
  const authProvider = mapping(user.value["auth-provider"]);
  const idToken = str(mapping(authProvider["config"])["id-token"]);
  if (out.token === undefined && idToken !== undefined) out.token = idToken;
  const username = str(user.value["username"]);
  const password = str(user.value["password"]);
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  const exec = mapping(user.value["exec"]);
  const command = str(exec["command"]);
  if (command !== undefined) {
    out.exec = {
      command,
      args: Array.isArray(exec["args"]) ? exec["args"].map(String) : [],
      env: Array.isArray(exec["env"])
        ? exec["env"].map((e) => ({
            name: String(mapping(e)["name"]),
            value: String(mapping(e)["value"] ?? ""),
          }))
        : [],
      apiVersion: str(exec["apiVersion"]) ?? "client.authentication.k8s.io/v1",
      dir: user.dir,
    };
  }
  return out;
}
