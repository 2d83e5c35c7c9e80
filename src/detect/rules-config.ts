// The `--rules-config` file: per-rule allow-lists, thresholds, switches, and the alert sinks.
// Every key is checked, so a typo in a rule id or field fails loudly instead of being ignored.
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { documentToJs } from "../yaml/to-js.js";
import { isRecord } from "../json/record.js";
import { DetectError, type AllowList } from "./types.js";

export interface RuleSettings {
  disabled?: boolean;
  threshold?: number;
  windowMs?: number;
  allow?: AllowList;
}

export type SinkSpec =
  | { type: "stdout" }
  | { type: "webhook"; url: string; tokenFile?: string; caFile?: string }
  | { type: "slack"; url: string }
  | { type: "alertmanager"; url: string; generatorURL?: string; caFile?: string };

export interface RulesConfig {
  /** Applies to every rule, in addition to the rule's own list. */
  allow?: AllowList;
  /** Replaces the control plane's identities the built-in rules exempt (DEFAULT_CONTROL_PLANE_USERS). */
  controlPlane?: { users: string[] };
  rules: Record<string, RuleSettings>;
  sinks: SinkSpec[];
}

export async function readRulesConfig(file: string): Promise<RulesConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new DetectError("config", `${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseRulesConfig(text, file);
}

export function parseRulesConfig(text: string, file: string): RulesConfig {
  const fail = (where: string, reason: string): never => {
    throw new DetectError("config", `${file}: ${where}: ${reason}`);
  };
  const doc = parseDocument(text);
  if (doc.errors[0]) fail("YAML", doc.errors[0].message.split("\n")[0] ?? "");
  const converted = documentToJs(doc);
  if (!converted.ok) return fail("YAML", converted.error);
  const raw: unknown = converted.value ?? {};
  if (!isRecord(raw)) return fail("top level", "must be a mapping");
  onlyKeys(raw, ["allow", "controlPlane", "rules", "sinks"], "top level", fail);

  const config: RulesConfig = { rules: {}, sinks: [] };
  if (raw.allow !== undefined) config.allow = parseAllow(raw.allow, "allow", fail);
  if (raw.controlPlane !== undefined) {
    if (!isRecord(raw.controlPlane)) fail("controlPlane", "must be a mapping with users");
    onlyKeys(raw.controlPlane as Record<string, unknown>, ["users"], "controlPlane", fail);
    config.controlPlane = {
      users: stringList((raw.controlPlane as Record<string, unknown>).users, "controlPlane.users", fail),
    };
  }
  if (raw.rules !== undefined) {
    if (!isRecord(raw.rules)) fail("rules", "must map rule ids to settings");
    for (const [id, s] of Object.entries(raw.rules as Record<string, unknown>)) {
      config.rules[id] = parseSettings(s, `rules.${id}`, fail);
    }
  }
  if (raw.sinks !== undefined) {
    if (!Array.isArray(raw.sinks)) fail("sinks", "must be a list");
    config.sinks = (raw.sinks as unknown[]).map((s, i) => parseSink(s, `sinks[${i}]`, fail));
  }
  return config;
}

type Fail = (where: string, reason: string) => never;

function onlyKeys(obj: Record<string, unknown>, allowed: string[], where: string, fail: Fail): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(where, `unknown key "${key}" (expected ${allowed.join(", ")})`);
  }
}

function parseSettings(raw: unknown, where: string, fail: Fail): RuleSettings {
  if (!isRecord(raw)) return fail(where, "must be a mapping");
  onlyKeys(raw, ["disabled", "threshold", "window", "allow"], where, fail);
  const s: RuleSettings = {};
  if (raw.disabled !== undefined) {
    if (typeof raw.disabled !== "boolean") fail(`${where}.disabled`, "must be true or false");
    s.disabled = raw.disabled as boolean;
  }
  if (raw.threshold !== undefined) {
    if (!Number.isInteger(raw.threshold) || (raw.threshold as number) < 1) {
      fail(`${where}.threshold`, "must be a positive integer");
    }
    s.threshold = raw.threshold as number;
  }
  if (raw.window !== undefined) s.windowMs = parseDuration(raw.window, `${where}.window`, fail);
  if (raw.allow !== undefined) s.allow = parseAllow(raw.allow, `${where}.allow`, fail);
  return s;
}

function parseAllow(raw: unknown, where: string, fail: Fail): AllowList {
  if (!isRecord(raw)) return fail(where, "must be a mapping of users, groups, namespaces");
  onlyKeys(raw, ["users", "groups", "namespaces"], where, fail);
  const list = (key: string): string[] => stringList(raw[key], `${where}.${key}`, fail);
  return { users: list("users"), groups: list("groups"), namespaces: list("namespaces") };
}

/** A list of non-empty strings (globs); absent is empty. */
function stringList(v: unknown, where: string, fail: Fail): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && x !== "")) {
    return fail(where, "must be a list of non-empty strings");
  }
  return v as string[];
}

function parseSink(raw: unknown, where: string, fail: Fail): SinkSpec {
  if (!isRecord(raw)) return fail(where, "must be a mapping with a type");
  const str = (key: string, required: boolean): string | undefined => {
    const v = raw[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v === "") return fail(`${where}.${key}`, "must be a non-empty string");
    return v;
  };
  const url = (): string => {
    const u = str("url", true) as string;
    if (!/^https?:\/\//.test(u)) fail(`${where}.url`, "must be an http(s) URL");
    return u;
  };
  switch (raw.type) {
    case "stdout":
      onlyKeys(raw, ["type"], where, fail);
      return { type: "stdout" };
    case "webhook":
      onlyKeys(raw, ["type", "url", "tokenFile", "caFile"], where, fail);
      return {
        type: "webhook",
        url: url(),
        tokenFile: str("tokenFile", false),
        caFile: str("caFile", false),
      };
    case "slack":
      onlyKeys(raw, ["type", "url"], where, fail);
      return { type: "slack", url: url() };
    case "alertmanager":
      onlyKeys(raw, ["type", "url", "generatorURL", "caFile"], where, fail);
      return {
        type: "alertmanager",
        url: url(),
        generatorURL: str("generatorURL", false),
        caFile: str("caFile", false),
      };
    default:
      return fail(
        `${where}.type`,
        `"${String(raw.type)}" is not one of stdout, webhook, slack, alertmanager`,
      );
  }
}

/** Accepts "500ms", "30s", "5m", "1h" or a number of seconds. */
export function parseDuration(raw: unknown, where: string, fail: Fail): number {
  if (typeof raw === "number" && raw > 0) return raw * 1000;
  const m = typeof raw === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(raw.trim()) : null;
  if (!m) return fail(where, `"${String(raw)}" is not a duration like 30s, 5m, 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) fail(where, "must be positive");
  return ms;
}
