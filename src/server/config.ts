// Serve's settings come from flags, KUBETRAIL_<FLAG> environment variables and a YAML config
// file, in that order of precedence over the defaults. Commander resolves flags and env; the file
// fills what is still at its default. Values are parsed here with errors that name their source.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { ServerError } from "./route.js";

/** A setting that cannot be used; the message names the flag, variable or file it came from. */
export class ConfigError extends ServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("config", message, options);
  }
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
};

/** Parses a byte size such as 32Mi, 1G or 1048576 (Kubernetes quantity suffixes). */
export function parseSize(text: string, where: string): number {
  const m = /^(\d+)\s*([kmg]i?)?b?$/i.exec(text.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  if (!m || unit === undefined)
    throw new ConfigError(`${where}: ${JSON.stringify(text)} is not a size (e.g. 32Mi, 512Ki, 1048576)`);
  return Number(m[1]) * unit;
}

/** Parses a duration such as 60s, 500ms, 2m or a plain number of milliseconds. */
export function parseDuration(text: string, where: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new ConfigError(`${where}: ${JSON.stringify(text)} is not a duration (e.g. 60s, 500ms, 2m, 7d)`);
  const unit = (m[2] ?? "ms") as "ms" | "s" | "m" | "h" | "d";
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit];
  return Math.round(Number(m[1]) * factor);
}

/** Parses host:port, :port or [v6]:port; an empty host means all IPv4 interfaces. */
export function parseListen(text: string, where: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new ConfigError(`${where}: ${JSON.stringify(text)} is not host:port (e.g. :8443, 127.0.0.1:8443)`);
  return { host: m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!), port };
}

/**
 * Fills options still at their default from the YAML file: keys are the long flag names
 * (`max-body`) or their camelCase (`maxBody`). Unknown keys are an error, so typos do not pass silently.
 */
export function applyConfigFile(cmd: Command, file: string): void {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return;
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new ConfigError(`${file}: expected a mapping of flag names to values`);
  const byName = new Map(cmd.options.map((o) => [o.attributeName(), o] as const));
  for (const [rawKey, value] of Object.entries(doc as Record<string, unknown>)) {
    const key = rawKey.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const option = byName.get(key);
    if (option === undefined || key === "config")
      throw new ConfigError(`${file}: unknown setting ${JSON.stringify(rawKey)}`);
    const source = cmd.getOptionValueSource(key);
    if (source === "cli" || source === "env") continue;
    if (option.isBoolean()) {
      if (typeof value !== "boolean") throw new ConfigError(`${file}: ${rawKey} must be true or false`);
      cmd.setOptionValueWithSource(key, value, "config");
    } else {
      if (typeof value !== "string" && typeof value !== "number")
        throw new ConfigError(`${file}: ${rawKey} must be a string or number`);
      cmd.setOptionValueWithSource(key, String(value), "config");
    }
  }
}
