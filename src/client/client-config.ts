// The client's config file: named contexts, each a server with how to trust and reach it and
// the verifier key its answers must be signed by, like a kubeconfig. It holds file paths for
// credentials (token file, client key), never a credential itself.
//
//   apiVersion: kubetrail.dev/v1
//   kind: ClientConfig
//   current-context: prod
//   contexts:
//     - name: prod
//       server: https://kubetrail.example:8443
//       certificate-authority: /home/me/.config/kubetrail/prod-ca.crt
//       token-file: /home/me/.config/kubetrail/prod-token
//       verifier-key: kubetrail.example/log+1a2b3c4d+AbC…
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { readYamlFile } from "../yaml/read-file.js";
import { ClientError } from "./errors.js";

export interface ContextSettings {
  name: string;
  server: string;
  certificateAuthority?: string;
  tokenFile?: string;
  clientCertificate?: string;
  clientKey?: string;
  verifierKey?: string;
}

export interface ClientConfig {
  currentContext?: string;
  contexts: ContextSettings[];
}

export const CONFIG_API_VERSION = "kubetrail.dev/v1";
export const CONFIG_KIND = "ClientConfig";

/** File key ↔ field, in the order they are written. */
const FIELDS: [string, keyof ContextSettings][] = [
  ["name", "name"],
  ["server", "server"],
  ["certificate-authority", "certificateAuthority"],
  ["token-file", "tokenFile"],
  ["client-certificate", "clientCertificate"],
  ["client-key", "clientKey"],
  ["verifier-key", "verifierKey"],
];

/** KUBETRAIL_CONFIG, else $XDG_CONFIG_HOME/kubetrail/config.yaml, else ~/.config/kubetrail/config.yaml. */
export function clientConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env["KUBETRAIL_CONFIG"]) return env["KUBETRAIL_CONFIG"];
  const base = env["XDG_CONFIG_HOME"] || path.join(os.homedir(), ".config");
  return path.join(base, "kubetrail", "config.yaml");
}

function bad(file: string, what: string): ClientError {
  return new ClientError("config", `${file}: ${what}`);
}

/** The config in `file`; a missing file is an empty config. Errors name the file and the field. */
export function loadClientConfig(file: string): ClientConfig {
  const read = readYamlFile(file);
  if (!read.ok) throw bad(file, read.error);
  if ("missing" in read) return { contexts: [] };
  const doc = read.doc;
  if (doc === null || doc === undefined) return { contexts: [] };
  if (typeof doc !== "object" || Array.isArray(doc)) throw bad(file, "expected a mapping");
  const d = doc as Record<string, unknown>;
  if (d["kind"] !== undefined && d["kind"] !== CONFIG_KIND)
    throw bad(
      file,
      `kind is ${JSON.stringify(d["kind"])}, not ${CONFIG_KIND} (is this a kubetrail client config?)`,
    );
  for (const key of Object.keys(d)) {
    if (!["apiVersion", "kind", "current-context", "contexts"].includes(key))
      throw bad(file, `unknown key "${key}"`);
  }
  const current = d["current-context"];
  if (current !== undefined && current !== null && typeof current !== "string")
    throw bad(file, "current-context is not a string");
  const list = d["contexts"] ?? [];
  if (!Array.isArray(list)) throw bad(file, "contexts is not a list");
  const contexts = list.map((c: unknown, i): ContextSettings => {
    if (c === null || typeof c !== "object" || Array.isArray(c))
      throw bad(file, `contexts[${i}] is not a mapping`);
    const out: Partial<ContextSettings> = {};
    for (const [key, value] of Object.entries(c as Record<string, unknown>)) {
      const field = FIELDS.find(([k]) => k === key)?.[1];
      if (field === undefined) throw bad(file, `contexts[${i}]: unknown key "${key}"`);
      if (typeof value !== "string" || value === "")
        throw bad(file, `contexts[${i}].${key} is not a non-empty string`);
      out[field] = value;
    }
    if (out.name === undefined) throw bad(file, `contexts[${i}] has no name`);
    if (out.server === undefined) throw bad(file, `contexts[${i}] (${out.name}) has no server`);
    return out as ContextSettings;
  });
  const names = new Set<string>();
  for (const c of contexts) {
    if (names.has(c.name)) throw bad(file, `context "${c.name}" appears twice`);
    names.add(c.name);
  }
  return { ...(typeof current === "string" ? { currentContext: current } : {}), contexts };
}

/** Writes the config atomically, readable by its owner only. */
export function saveClientConfig(file: string, cfg: ClientConfig): void {
  const doc = {
    apiVersion: CONFIG_API_VERSION,
    kind: CONFIG_KIND,
    ...(cfg.currentContext === undefined ? {} : { "current-context": cfg.currentContext }),
    contexts: cfg.contexts.map((c) => {
      const out: Record<string, string> = {};
      for (const [key, field] of FIELDS) if (c[field] !== undefined) out[key] = c[field] as string;
      return out;
    }),
  };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, YAML.stringify(doc), { mode: 0o600 });
  renameSync(tmp, file);
}

/** The named context, or the current one when `name` is undefined; undefined when neither exists. */
export function findContext(cfg: ClientConfig, file: string, name?: string): ContextSettings | undefined {
  const wanted = name ?? cfg.currentContext;
  if (wanted === undefined) return undefined;
  const found = cfg.contexts.find((c) => c.name === wanted);
  if (found === undefined)
    throw new ClientError(
      "config",
      `${file}: no context "${wanted}"` +
        (cfg.contexts.length > 0 ? ` (have ${cfg.contexts.map((c) => c.name).join(", ")})` : ""),
    );
  return found;
}
