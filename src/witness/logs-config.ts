// The logs a witness (or a mirror) serves, from a YAML file the operator edits while it runs:
//
//   logs:
//     - kubetrail.local/0123abcd+1a2b3c4d+AZ…        # a verifier key: the origin is its name
//     - origin: example.com/log                       # or an origin and its keys
//       keys: [example.com/log+…, example.com/log+…]  # several during a key rotation
//       url: https://log.example/                     # mirror pull mode: where its tiles are
//       bundles: c2sp                                 # mirror: entry bundle format (ndjson default)
//
// A log's keys must be Ed25519 note keys named as its origin (C2SP tlog-checkpoint: the log's
// key name is its origin); a checkpoint is accepted when any of them signed it.
import { readFile } from "node:fs/promises";
import { isDocument, parseDocument } from "yaml";
import { isRecord } from "../json/record.js";
import { NoteVerifier } from "../tlog/index.js";
import { documentToJs } from "../yaml/to-js.js";
import { WitnessError } from "./errors.js";

/** How a log's entry bundles are laid out: kubetrail's JSON lines, or C2SP's uint16-prefixed entries. */
export type BundleFormat = "ndjson" | "c2sp";

export interface LogConfig {
  origin: string;
  verifiers: NoteVerifier[];
  /** Where a mirror pulls the log from (its tlog-tiles prefix), when it does. */
  url?: string;
  bundles: BundleFormat;
}

export interface LogsConfig {
  /** By origin. */
  logs: ReadonlyMap<string, LogConfig>;
}

function bad(file: string, where: string, why: string): WitnessError {
  return new WitnessError("config", `${file}: ${where}: ${why}`);
}

function verifier(file: string, where: string, key: unknown, origin: string | undefined): NoteVerifier {
  if (typeof key !== "string") throw bad(file, where, "a key must be a verifier key string");
  let v: NoteVerifier;
  try {
    v = NoteVerifier.fromKey(key.trim());
  } catch (err) {
    throw bad(file, where, (err as Error).message);
  }
  if (origin !== undefined && v.name !== origin)
    throw bad(file, where, `key is named "${v.name}", not as the origin "${origin}"`);
  return v;
}

function logEntry(file: string, item: unknown, i: number): LogConfig {
  const where = `logs[${i}]`;
  if (typeof item === "string") {
    const v = verifier(file, where, item, undefined);
    return { origin: v.name, verifiers: [v], bundles: "ndjson" };
  }
  if (!isRecord(item)) throw bad(file, where, "expected a verifier key or {origin, keys}");
  for (const k of Object.keys(item)) {
    if (!["origin", "keys", "url", "bundles"].includes(k)) throw bad(file, where, `unknown field "${k}"`);
  }
  const keys = item["keys"];
  if (!Array.isArray(keys) || keys.length === 0)
    throw bad(file, `${where}.keys`, "at least one verifier key");
  const origin = item["origin"] ?? undefined;
  if (origin !== undefined && (typeof origin !== "string" || origin === "" || origin.includes("\n")))
    throw bad(file, `${where}.origin`, "must be a non-empty line of text");
  const verifiers = keys.map((k, j) =>
    verifier(file, `${where}.keys[${j}]`, k, origin as string | undefined),
  );
  const name = (origin as string | undefined) ?? verifiers[0]!.name;
  if (verifiers.some((v) => v.name !== name))
    throw bad(file, `${where}.keys`, `keys of one log must all be named as its origin "${name}"`);
  const url = item["url"];
  if (url !== undefined) {
    if (typeof url !== "string" || !/^https?:\/\//.test(url))
      throw bad(file, `${where}.url`, "must be an http(s) URL");
  }
  const bundles = item["bundles"] ?? "ndjson";
  if (bundles !== "ndjson" && bundles !== "c2sp")
    throw bad(file, `${where}.bundles`, 'must be "ndjson" or "c2sp"');
  return { origin: name, verifiers, bundles, ...(url === undefined ? {} : { url: url as string }) };
}

/** Parses the logs file's text; throws WitnessError("config") naming the file and the field. */
export function parseLogsConfig(text: string, file: string): LogsConfig {
  const doc = parseDocument(text, { prettyErrors: false });
  if (!isDocument(doc) || doc.errors.length > 0)
    throw bad(file, "YAML", doc.errors[0]?.message ?? "not a YAML document");
  const js = documentToJs(doc);
  if (!js.ok) throw bad(file, "YAML", js.error);
  const root = js.value;
  if (root === null || root === undefined) return { logs: new Map() };
  if (!isRecord(root) || !Array.isArray(root["logs"]))
    throw bad(file, "top level", "expected a mapping with a list `logs`");
  for (const k of Object.keys(root)) if (k !== "logs") throw bad(file, "top level", `unknown field "${k}"`);
  const logs = new Map<string, LogConfig>();
  (root["logs"] as unknown[]).forEach((item, i) => {
    const log = logEntry(file, item, i);
    if (logs.has(log.origin)) throw bad(file, `logs[${i}]`, `origin "${log.origin}" is listed twice`);
    logs.set(log.origin, log);
  });
  return { logs };
}

export async function loadLogsConfig(file: string): Promise<LogsConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new WitnessError("config", `${file}: cannot read the logs file (${reason})`, { cause: err });
  }
  return parseLogsConfig(text, file);
}
