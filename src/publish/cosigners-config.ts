// Whom `serve` asks to cosign its checkpoints (--cosigners FILE, YAML):
//
//   witnesses:
//     - url: https://witness-1.example:8444/       # its submission prefix
//       key: witness-1.example/w1+1a2b3c4d+BA…      # its cosignature/v1 verifier key
//     - url: https://witness-2.example:8444/
//       key: …
//       optional: true                              # asked, never counted toward the quorum
//   quorum: 1            # cosignatures needed from the non-optional witnesses (default: all)
//   failMode: open       # open: publish a checkpoint short of the quorum; closed: hold it back
//   timeout: 5s          # one request
//   retries: 2           # further tries after a network failure, timeout or 5xx
//   maxWait: 3s          # how long publishing one checkpoint waits for cosignatures
//   ca: /etc/kubetrail/cosigners-ca.pem
//   mirrors:
//     - url: https://mirror.example:8445/
//       key: mirror.example/m1+…
//   strict: false        # acknowledge events only once a mirror cosigned a checkpoint covering them
//   strictTimeout: 10s   # …waiting at most this long (then 503: the apiserver sends the batch again)
//   witnessAfterMirror: true   # witnesses get only checkpoints a mirror holds (default with mirrors)
//   retentionHold: 7d    # serve's retention keeps what a mirror lacks, unless it cosigned nothing for this long (0: never)
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isDocument, parseDocument } from "yaml";
import { isRecord } from "../json/record.js";
import { ConfigError, parseDuration } from "../server/config.js";
import { CosignatureVerifier } from "../tlog/index.js";
import { documentToJs } from "../yaml/to-js.js";
import type { CosignerEndpoint, RequestTiming } from "./cosigner-client.js";
import type { WitnessEndpoint } from "./witness-client.js";

export interface CosignersConfig {
  witnesses: WitnessEndpoint[];
  quorum: number;
  failMode: "open" | "closed";
  timing: RequestTiming;
  maxWaitMs: number;
  /** PEM text of the CA bundle trusted for witnesses and mirrors. */
  ca?: string;
  insecureSkipTlsVerify: boolean;
  mirrors: CosignerEndpoint[];
  strict: boolean;
  /** Witnesses get only checkpoints a mirror has cosigned (default with mirrors). */
  witnessAfterMirror: boolean;
  /** In strict mode, how long an acknowledgement waits for a mirror's cosignature (then 503). */
  strictTimeoutMs: number;
  /** How long serve's retention waits for a mirror that cosigns nothing new (0: it never waits; mirror-holds.ts). */
  retentionHoldMs: number;
}

const FIELDS = [
  "witnesses",
  "quorum",
  "failMode",
  "timeout",
  "retries",
  "maxWait",
  "ca",
  "insecureSkipTlsVerify",
  "mirrors",
  "strict",
  "witnessAfterMirror",
  "strictTimeout",
  "retentionHold",
];

function endpoint(
  file: string,
  where: string,
  item: unknown,
  extra: string[],
): CosignerEndpoint & Record<string, unknown> {
  if (!isRecord(item)) throw new ConfigError(`${file}: ${where}: expected {url, key}`);
  for (const k of Object.keys(item))
    if (!["url", "key", ...extra].includes(k))
      throw new ConfigError(`${file}: ${where}: unknown field "${k}"`);
  const url = item["url"];
  if (typeof url !== "string" || !/^https?:\/\/[^/]/.test(url))
    throw new ConfigError(`${file}: ${where}.url: must be an http(s) URL`);
  let verifier: CosignatureVerifier;
  try {
    verifier = CosignatureVerifier.fromKey(String(item["key"] ?? "").trim());
  } catch (err) {
    throw new ConfigError(`${file}: ${where}.key: ${(err as Error).message}`);
  }
  return { ...item, name: verifier.name, url, verifier };
}

/** Parses the cosigners file's text; every error names the file and the field. */
export function parseCosignersConfig(
  text: string,
  file: string,
  readCa: (f: string) => string,
): CosignersConfig {
  const doc = parseDocument(text, { prettyErrors: false });
  if (!isDocument(doc) || doc.errors.length > 0)
    throw new ConfigError(`${file}: ${doc.errors[0]?.message ?? "not a YAML document"}`);
  const js = documentToJs(doc);
  if (!js.ok) throw new ConfigError(`${file}: ${js.error}`);
  const root = js.value ?? {};
  if (!isRecord(root)) throw new ConfigError(`${file}: expected a mapping`);
  for (const k of Object.keys(root))
    if (!FIELDS.includes(k)) throw new ConfigError(`${file}: unknown setting "${k}"`);
  const list = (name: string): unknown[] => {
    const v = root[name] ?? [];
    if (!Array.isArray(v)) throw new ConfigError(`${file}: ${name}: expected a list`);
    return v;
  };
  const witnesses: WitnessEndpoint[] = list("witnesses").map((item, i) => {
    const e = endpoint(file, `witnesses[${i}]`, item, ["optional"]);
    if (e["optional"] !== undefined && typeof e["optional"] !== "boolean")
      throw new ConfigError(`${file}: witnesses[${i}].optional: must be true or false`);
    return { name: e.name, url: e.url, verifier: e.verifier, optional: e["optional"] === true };
  });
  const ids = new Set(witnesses.map((w) => w.verifier.key));
  if (ids.size !== witnesses.length) throw new ConfigError(`${file}: witnesses: a key is listed twice`);
  const required = witnesses.filter((w) => !w.optional).length;
  const quorum = root["quorum"] ?? required;
  if (typeof quorum !== "number" || !Number.isInteger(quorum) || quorum < 0 || quorum > required)
    throw new ConfigError(
      `${file}: quorum: must be a whole number from 0 to the ${required} non-optional witnesses`,
    );
  const failMode = root["failMode"] ?? "open";
  if (failMode !== "open" && failMode !== "closed")
    throw new ConfigError(`${file}: failMode: must be open or closed`);
  const duration = (name: string, fallback: string): number =>
    parseDuration(String(root[name] ?? fallback), `${file}: ${name}`);
  const retries = root["retries"] ?? 2;
  if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0 || retries > 10)
    throw new ConfigError(`${file}: retries: must be a whole number from 0 to 10`);
  const mirrors = list("mirrors").map((item, i) => {
    const e = endpoint(file, `mirrors[${i}]`, item, []);
    return { name: e.name, url: e.url, verifier: e.verifier };
  });
  const strict = root["strict"] ?? false;
  if (typeof strict !== "boolean") throw new ConfigError(`${file}: strict: must be true or false`);
  if (strict && mirrors.length === 0) throw new ConfigError(`${file}: strict: needs at least one mirror`);
  const ca = root["ca"];
  if (ca !== undefined && typeof ca !== "string") throw new ConfigError(`${file}: ca: must be a file name`);
  return {
    witnesses,
    quorum,
    failMode,
    timing: { timeoutMs: duration("timeout", "5s"), retries, retryDelayMs: 200, maxBackoffMs: 60_000 },
    maxWaitMs: duration("maxWait", "3s"),
    ...(ca === undefined ? {} : { ca: readCa(ca) }),
    insecureSkipTlsVerify: root["insecureSkipTlsVerify"] === true,
    mirrors,
    strict,
    witnessAfterMirror: root["witnessAfterMirror"] !== false,
    strictTimeoutMs: duration("strictTimeout", "10s"),
    retentionHoldMs: duration("retentionHold", "7d"),
  };
}

export async function loadCosignersConfig(file: string): Promise<CosignersConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseCosignersConfig(text, file, (f) => {
    try {
      return readFileSync(f, "utf8");
    } catch (err) {
      throw new ConfigError(`${file}: ca ${f}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  });
}
