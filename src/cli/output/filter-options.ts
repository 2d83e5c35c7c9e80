// The query filters as command-line flags, shared by query, top and export. Flag names are
// the filter names of src/index/query.ts, so the CLI and the HTTP API accept the same words.
import type { Command } from "commander";
import { IndexError } from "../../index/errors.js";
import { parseFilter, type RawFilter } from "../../index/query.js";
import { CliError } from "../errors.js";
import { USAGE_EXIT } from "./format.js";
import { collect } from "../list-options.js";

/** Adds the filter flags; repeatable ones collect every value (OR). */
export function addFilterOptions(cmd: Command, opts: { limit?: boolean; order?: boolean } = {}): Command {
  cmd
    .option("--user <name>", "user name (repeatable)", collect)
    .option("--group <group>", "one of the user's groups (repeatable)", collect)
    .option("--verb <verb>", "verb, e.g. delete or patch,update (repeatable)", collect)
    .option("--resource <res>", "secrets, pods/exec, deployments.apps (repeatable)", collect)
    .option("-n, --namespace <ns>", "namespace (repeatable)", collect)
    .option("--name <name>", "object name (repeatable)", collect)
    .option("--code <code>", "response code or class: 403, 4xx, 5xx (repeatable)", collect)
    .option("--since <duration>", "only the last 15m, 24h, 7d, …")
    .option("--from <time>", "not before this RFC 3339 time")
    .option("--to <time>", "not after this RFC 3339 time")
    .option("--source-ip <ip>", "client address, the first of sourceIPs (repeatable)", collect)
    .option("--decision <decision>", "authorization decision: allow or forbid (repeatable)", collect)
    .option("--kind <kind>", "event or decision (admission decisions); default: both", collect)
    .option(
      "--result <result>",
      "admission decision result: allow, deny, warn or audit (repeatable)",
      collect,
    )
    .option(
      "--stage <stage>",
      "stage (repeatable); default: one row per request, its final stage",
      collect,
      [],
    )
    .option("--audit-id <id>", "auditID (repeatable)", collect);
  if (opts.limit !== false)
    cmd.option(
      "--limit <n>",
      "at most this many results (default 100); 0 or all: every match, streamed page by page",
    );
  if (opts.order !== false) {
    cmd
      .option("--asc", "oldest first (default: newest first)")
      .option("--cursor <token>", "continue a previous listing");
  }
  return cmd;
}

const FLAG_NAMES: Record<string, keyof RawFilter> = {
  user: "user",
  group: "group",
  verb: "verb",
  resource: "resource",
  namespace: "namespace",
  name: "name",
  code: "code",
  since: "since",
  from: "from",
  to: "to",
  sourceIp: "source-ip",
  decision: "decision",
  kind: "kind",
  result: "result",
  stage: "stage",
  auditId: "audit-id",
  asc: "asc",
  cursor: "cursor",
};

/** Turns an IndexError about bad input into a usage error for the terminal; rethrows others. */
export function usageError(err: unknown): never {
  if (err instanceof IndexError && (err.code === "bad-filter" || err.code === "bad-cursor")) {
    // Filter names are flag names; other fields (an argument such as KIND/NAME) get no dashes.
    const isFlag =
      err.field !== undefined && Object.values(FLAG_NAMES).includes(err.field as keyof RawFilter);
    throw new CliError(isFlag ? `--${err.message}` : err.message, USAGE_EXIT);
  }
  throw err;
}

/**
 * `--limit`: a positive whole number, or 0 / "all" for every match (Infinity). No ceiling: the
 * answer is read and printed a page at a time.
 */
export function parseTotal(text: string | undefined, fallback: number, flag = "--limit"): number {
  if (text === undefined) return fallback;
  if (text === "0" || text.toLowerCase() === "all") return Infinity;
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new CliError(`${flag}: "${text}" is not a positive whole number, 0 or all`, USAGE_EXIT);
  return Number(text);
}

/**
 * The filter values the flags describe, checked with the same parser the server uses, so a bad
 * value exits with a usage error naming the flag before anything is read.
 */
export function filterFromOptions(opts: Record<string, unknown>, overrides: RawFilter = {}): RawFilter {
  const raw: RawFilter = {};
  for (const [flag, name] of Object.entries(FLAG_NAMES)) {
    const v = opts[flag];
    if (v === undefined || v === false) continue;
    if (Array.isArray(v)) {
      if (v.length > 0) raw[name] = v.map(String);
    } else raw[name] = [v === true ? "true" : String(v)];
  }
  const merged = { ...raw, ...overrides };
  try {
    parseFilter(merged);
  } catch (err) {
    return usageError(err);
  }
  return merged;
}
