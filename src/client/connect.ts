// From settings (flags, a client-config context, or what the kubectl plugin found) to a
// remote ReadSource: read the CA, the token and the client key from their files, and refuse to
// go on without a pinned verifier key, since a key taken from the server would prove nothing.
import type { WitnessPolicy } from "../verify/witness-policy.js";
import { readFileSync } from "node:fs";
import { JsonClient } from "../http/json-client.js";
import { ClientError } from "./errors.js";
import { remoteSource } from "./remote-source.js";
import { fileSeenCheckpoints, type SeenCheckpoints } from "./seen-checkpoints.js";
import type { ReadSource } from "./source.js";

export interface RemoteSettings {
  server: string;
  /** Files, as the flags and the client config name them. */
  certificateAuthority?: string;
  tokenFile?: string;
  clientCertificate?: string;
  clientKey?: string;
  /** In-memory credentials (the kubectl plugin's, taken from the kubeconfig). */
  caData?: string | Buffer;
  token?: string;
  certData?: string | Buffer;
  keyData?: string | Buffer;
  verifierKey?: string;
  /** Where the settings came from, for messages ("--server", "context prod", …). */
  origin: string;
}

function readSetting(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ClientError(
      "config",
      `${what} ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** The first non-empty line of a token file: the bearer token. */
export function readTokenFile(file: string): string {
  const token = readSetting(file, "token file")
    .toString("utf8")
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#"));
  if (token === undefined) throw new ClientError("config", `token file ${file}: no token in it`);
  return token;
}

/** A JSON client for the server with every credential the settings name. */
export function apiClient(s: RemoteSettings): JsonClient {
  if ((s.clientCertificate === undefined) !== (s.clientKey === undefined))
    throw new ClientError(
      "config",
      `${s.origin}: a client certificate and its key go together (--client-cert and --client-key)`,
    );
  return new JsonClient({
    server: s.server,
    ca:
      s.caData ??
      (s.certificateAuthority === undefined ? undefined : readSetting(s.certificateAuthority, "CA file")),
    cert:
      s.certData ??
      (s.clientCertificate === undefined
        ? undefined
        : readSetting(s.clientCertificate, "client certificate")),
    key: s.keyData ?? (s.clientKey === undefined ? undefined : readSetting(s.clientKey, "client key")),
    token: s.token ?? (s.tokenFile === undefined ? undefined : readTokenFile(s.tokenFile)),
  });
}

/** The verifier key the settings pin; a config error saying how to pin one when there is none. */
export function pinnedKey(s: RemoteSettings): string {
  if (s.verifierKey !== undefined && s.verifierKey !== "") return s.verifierKey;
  throw new ClientError(
    "config",
    `${s.origin}: no verifier key pinned for ${s.server}; answers can only be checked against a key you trust.` +
      ` Give --key VKEY (printed by \`kubetrail keys\` where the log is) or pin it in a context` +
      ` (kubetrail config set-context NAME --key VKEY)`,
  );
}

export function connectRemote(
  s: RemoteSettings,
  seen: SeenCheckpoints = fileSeenCheckpoints(),
  witnesses: WitnessPolicy | null = null,
): ReadSource {
  const verifierKey = pinnedKey(s);
  return remoteSource({ api: apiClient(s), verifierKey, seen, witnesses });
}
