// The query language shared by the CLI flags and the HTTP query string: one parser (same
// names, same errors) producing a typed filter, compiled to parameterised SQL. Values only
// ever travel as SQL parameters, never inside the SQL text.
import { STAGES, type Stage } from "../audit/types.js";
import { IndexError } from "./errors.js";
import { parseDuration, parseTimeFilter } from "./time.js";
import { ADMISSION_DECISION, STAGE_RANK } from "./row.js";

export interface ResourceSpec {
  resource: string;
  /** undefined: no subresource; "*": any subresource or none. */
  subresource?: string;
  /** undefined: any group; "" is the core group. */
  apiGroup?: string;
}

export interface CodeRange {
  min: number;
  max: number;
}

export type Decision = "allow" | "forbid";

/** What `kind` selects: audit events, or kubetrail's admission decisions. */
export const ENTRY_KINDS: Record<string, string> = { event: "Event", decision: "AdmissionDecision" };
const EVENT_KIND = "Event";
/** An admission decision's result (src/guard): the strongest effect of its policies. */
export const ADMISSION_RESULTS = ["allow", "deny", "warn", "audit"] as const;
export type AdmissionResult = (typeof ADMISSION_RESULTS)[number];

/** A parsed query. Lists combine with OR inside one field; fields combine with AND. */
export interface EventFilter {
  users: string[];
  groups: string[];
  verbs: string[];
  resources: ResourceSpec[];
  namespaces: string[];
  names: string[];
  codes: CodeRange[];
  sourceIPs: string[];
  decisions: Decision[];
  /** Entry kinds as stored (Event, AdmissionDecision); empty: both. */
  kinds: string[];
  /** Admission decisions with these results (implies kind AdmissionDecision). */
  results: AdmissionResult[];
  /** Empty: one row per request, its final stage. */
  stages: Stage[];
  auditIDs: string[];
  /** Relative window, resolved against "now" when the query runs. */
  sinceUs?: number;
  fromUs?: number;
  toUs?: number;
  limit: number;
  asc: boolean;
  cursor?: Cursor;
  /** Only entries below this log index: the size of the checkpoint answers are proven against. */
  logSize?: number;
  /**
   * Set by authorization, never by a user's filter: only events in these namespaces (so no
   * cluster-scoped ones). Undefined: no restriction.
   */
  allowedNamespaces?: readonly string[];
}

/**
 * Keyset position: results continue strictly after (timeUs, idx) in the query's order. `size`
 * pins a listing to the log as it was on its first page (only entries below it, proofs against
 * the tree of that size), so a long listing neither gains entries midway nor changes checkpoint.
 */
export interface Cursor {
  timeUs: number;
  idx: number;
  size?: number;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 100_000;

/** The filter names, as CLI flags (`--source-ip`) and URL parameters (`source-ip=`). */
export const FILTER_NAMES = [
  "user",
  "group",
  "verb",
  "resource",
  "namespace",
  "name",
  "code",
  "since",
  "from",
  "to",
  "source-ip",
  "decision",
  "kind",
  "result",
  "stage",
  "audit-id",
  "limit",
  "asc",
  "cursor",
] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

/** Raw filter values by name, as repeated flags or repeated URL parameters deliver them. */
export type RawFilter = Partial<Record<FilterName, string[]>>;

function bad(field: string, message: string): IndexError {
  return new IndexError("bad-filter", `${field}: ${message}`, field);
}

/** Splits comma-separated values for fields whose values never contain commas. */
function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim());
}

function nonEmpty(values: string[] | undefined, field: string): string[] {
  const out = values ?? [];
  for (const v of out) if (v === "") throw bad(field, "empty value");
  return out;
}

function single(values: string[] | undefined, field: string): string | undefined {
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw bad(field, `given ${values.length} times; it takes one value`);
  return values[0];
}

const RESOURCE = /^([a-z0-9-]+|\*)(?:\.([a-z0-9.-]+))?(?:\/([a-z0-9-]+|\*))?$/;

/** `secrets`, `pods/exec`, `deployments.apps`, `deployments.apps/scale`, `pods/*`. */
export function parseResource(text: string): ResourceSpec {
  const m = RESOURCE.exec(text);
  if (!m || m[1] === "*") {
    throw bad(
      "resource",
      `"${text}" is not a resource (use plural lowercase names: secrets, pods/exec, deployments.apps)`,
    );
  }
  const spec: ResourceSpec = { resource: m[1] as string };
  if (m[2] !== undefined) spec.apiGroup = m[2] === "core" ? "" : m[2];
  if (m[3] !== undefined) spec.subresource = m[3];
  return spec;
}

const CODE = /^([1-5])(xx|\d\d)$/;

/** `403`, `4xx`, `5xx`. */
export function parseCode(text: string): CodeRange {
  const m = CODE.exec(text);
  if (!m) throw bad("code", `"${text}" is not an HTTP status code or class (e.g. 403, 4xx, 5xx)`);
  if (m[2] === "xx") {
    const base = Number(m[1]) * 100;
    return { min: base, max: base + 99 };
  }
  const code = Number(text);
  return { min: code, max: code };
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw bad("limit", `"${text}" is not a whole number from 1 to ${MAX_LIMIT}`);
  }
  return Number(text);
}

function parseBool(text: string | undefined, field: string): boolean {
  if (text === undefined) return false;
  if (text === "" || text === "true" || text === "1") return true;
  if (text === "false" || text === "0") return false;
  throw bad(field, `"${text}" is not true or false`);
}

/** Encodes a keyset cursor as an opaque URL-safe token. */
export function encodeCursor(c: Cursor): string {
  const text = `${c.timeUs}:${c.idx}${c.size === undefined ? "" : `:${c.size}`}`;
  return Buffer.from(text, "utf8").toString("base64url");
}

export function decodeCursor(token: string): Cursor {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const m = /^(\d{1,16}):(\d{1,16})(?::(\d{1,16}))?$/.exec(text);
  if (!m)
    throw new IndexError("bad-cursor", `cursor: "${token}" is not a cursor this server issued`, "cursor");
  const cursor: Cursor = { timeUs: Number(m[1]), idx: Number(m[2]) };
  if (m[3] !== undefined) cursor.size = Number(m[3]);
  return cursor;
}

/**
 * Parses raw filter values into an EventFilter. Throws an IndexError ("bad-filter" or
 * "bad-cursor") naming the filter and the value that was wrong; unknown names are rejected.
 */
export function parseFilter(raw: Record<string, string[] | undefined>): EventFilter {
  for (const name of Object.keys(raw)) {
    if (!(FILTER_NAMES as readonly string[]).includes(name)) {
      throw bad(name, `unknown filter (known: ${FILTER_NAMES.join(", ")})`);
    }
  }
  const r = raw as RawFilter;
  const filter: EventFilter = {
    users: nonEmpty(r.user, "user"),
    groups: nonEmpty(r.group, "group"),
    verbs: nonEmpty(splitList(r.verb), "verb"),
    resources: splitList(r.resource).map(parseResource),
    namespaces: nonEmpty(r.namespace, "namespace"),
    names: nonEmpty(r.name, "name"),
    codes: splitList(r.code).map(parseCode),
    sourceIPs: nonEmpty(r["source-ip"], "source-ip"),
    decisions: splitList(r.decision).map((d) => {
      if (d !== "allow" && d !== "forbid") throw bad("decision", `"${d}" is not allow or forbid`);
      return d;
    }),
    kinds: splitList(r.kind).map((k) => {
      const kind = ENTRY_KINDS[k];
      if (kind === undefined) throw bad("kind", `"${k}" is not ${Object.keys(ENTRY_KINDS).join(" or ")}`);
      return kind;
    }),
    results: splitList(r.result).map((x) => {
      if (!(ADMISSION_RESULTS as readonly string[]).includes(x))
        throw bad("result", `"${x}" is not an admission result (${ADMISSION_RESULTS.join(", ")})`);
      return x as AdmissionResult;
    }),
    stages: splitList(r.stage).map((s) => {
      if (!(STAGES as readonly string[]).includes(s)) {
        throw bad("stage", `"${s}" is not a stage (${STAGES.join(", ")})`);
      }
      return s as Stage;
    }),
    auditIDs: nonEmpty(r["audit-id"], "audit-id"),
    limit: parseLimit(single(r.limit, "limit")),
    asc: parseBool(single(r.asc, "asc"), "asc"),
  };
  const since = single(r.since, "since");
  if (since !== undefined) filter.sinceUs = parseDuration(since, "since");
  const from = single(r.from, "from");
  if (from !== undefined) filter.fromUs = parseTimeFilter(from, "from");
  const to = single(r.to, "to");
  if (to !== undefined) filter.toUs = parseTimeFilter(to, "to");
  if (filter.fromUs !== undefined && filter.toUs !== undefined && filter.fromUs > filter.toUs) {
    throw bad("from", `${from} is after --to ${to}`);
  }
  const cursor = single(r.cursor, "cursor");
  if (cursor !== undefined) filter.cursor = decodeCursor(cursor);
  return filter;
}

export type SqlParam = string | number | bigint;

export interface SqlQuery {
  sql: string;
  params: SqlParam[];
}

/** How the index spells a filter's values (db.ts provides it). */
export interface IndexKeys {
  /**
   * The id of a string (schema.ts `strings`), or undefined when no row holds it: a condition on
   * a value the index has never seen matches nothing.
   */
  id(value: string): number | undefined;
  /** The key an auditID is stored under (audit-key.ts). */
  auditKey(auditID: string): bigint;
}

function placeholders(n: number): string {
  return new Array<string>(n).fill("?").join(", ");
}

/**
 * Compiles the filter's conditions (not its order, limit or cursor) to a WHERE clause over
 * `entries` aliased `e`. `nowUs` anchors `since`; `keys` turns the filter's strings into the
 * index's ids, so the SQL compares integers and uses the same indexes as an equality would.
 */
export function compileWhere(f: EventFilter, nowUs: number, keys: IndexKeys): SqlQuery {
  const ids = (value: string): number | undefined => keys.id(value);
  const where: string[] = [];
  const params: SqlParam[] = [];
  const inList = (column: string, values: readonly SqlParam[]): void => {
    if (values.length === 0) return;
    where.push(`${column} IN (${placeholders(values.length)})`);
    params.push(...values);
  };
  const known = (values: readonly string[]): number[] =>
    values.map(ids).filter((id): id is number => id !== undefined);
  // Strings the index has never seen match nothing (an empty IN list is "0").
  const inStrings = (column: string, values: readonly string[]): void => {
    if (values.length === 0) return;
    const found = known(values);
    if (found.length === 0) where.push("0");
    else inList(column, found);
  };

  if (f.stages.length === 0) where.push("e.final = 1");
  else inList("e.stage_rank", [...new Set(f.stages.map((s) => STAGE_RANK[s]))]);
  inStrings("e.user", f.users);
  if (f.groups.length > 0) {
    where.push(
      `e.group_set IN (SELECT m.set_id FROM group_members m WHERE m.grp IN (${placeholders(f.groups.length)}))`,
    );
    params.push(...f.groups);
  }
  inStrings("e.verb", f.verbs);
  if (f.resources.length > 0) {
    const alternatives = f.resources.map((r) => {
      const resource = ids(r.resource);
      const subresource = r.subresource === undefined || r.subresource === "*" ? null : ids(r.subresource);
      const apiGroup = r.apiGroup === undefined ? null : ids(r.apiGroup);
      if (resource === undefined || subresource === undefined || apiGroup === undefined) return "0";
      const parts = ["e.resource = ?"];
      params.push(resource);
      if (r.subresource === undefined) parts.push("e.subresource IS NULL");
      else if (subresource !== null) {
        parts.push("e.subresource = ?");
        params.push(subresource);
      }
      if (apiGroup !== null) {
        parts.push("e.api_group = ?");
        params.push(apiGroup);
      }
      return `(${parts.join(" AND ")})`;
    });
    where.push(`(${alternatives.join(" OR ")})`);
  }
  inStrings("e.namespace", f.namespaces);
  if (f.allowedNamespaces !== undefined) {
    if (f.allowedNamespaces.length === 0) where.push("0");
    else inStrings("e.namespace", f.allowedNamespaces);
  }
  inStrings("e.name", f.names);
  if (f.codes.length > 0) {
    // Exact codes as equality: the (code, time) index then yields rows already in time order.
    const exact = f.codes.filter((c) => c.min === c.max).map((c) => c.min);
    const ranges = f.codes.filter((c) => c.min !== c.max);
    const alternatives = [
      ...(exact.length > 0 ? [`e.code IN (${placeholders(exact.length)})`] : []),
      ...ranges.map(() => "e.code BETWEEN ? AND ?"),
    ];
    where.push(alternatives.length === 1 ? (alternatives[0] as string) : `(${alternatives.join(" OR ")})`);
    params.push(...exact, ...ranges.flatMap((c) => [c.min, c.max]));
  }
  inStrings("e.source_ip", f.sourceIPs);
  // The decision column holds the authorization decision of events (kind NULL) and the result
  // of admission decisions; each filter keeps to its own kind.
  if (f.decisions.length > 0) {
    where.push("e.kind IS NULL");
    inStrings("e.decision", f.decisions);
  }
  if (f.results.length > 0) {
    inStrings("e.kind", [ADMISSION_DECISION]);
    inStrings("e.decision", f.results);
  }
  if (f.kinds.length > 0) {
    const records = known(f.kinds.filter((k) => k !== EVENT_KIND));
    const alternatives = [
      ...(f.kinds.includes(EVENT_KIND) ? ["e.kind IS NULL"] : []),
      ...(records.length > 0 ? [`e.kind IN (${placeholders(records.length)})`] : []),
    ];
    params.push(...records);
    where.push(alternatives.length === 0 ? "0" : `(${alternatives.join(" OR ")})`);
  }
  inList(
    "e.audit",
    f.auditIDs.map((a) => keys.auditKey(a)),
  );
  const lower = Math.max(f.sinceUs === undefined ? 0 : nowUs - f.sinceUs, f.fromUs ?? 0);
  if (lower > 0) {
    where.push("e.time_us >= ?");
    params.push(lower);
  }
  if (f.toUs !== undefined) {
    where.push("e.time_us <= ?");
    params.push(f.toUs);
  }
  if (f.logSize !== undefined) {
    where.push("e.idx < ?");
    params.push(f.logSize);
  }
  return { sql: where.join(" AND "), params };
}

/** The full search: conditions, cursor, order and limit (one extra row tells whether a next page exists). */
export function compileSearch(
  f: EventFilter,
  nowUs: number,
  keys: IndexKeys,
  columns: string,
  joins = "",
): SqlQuery {
  const { sql: where, params } = compileWhere(f, nowUs, keys);
  const conds = where === "" ? [] : [where];
  if (f.cursor !== undefined) {
    conds.push(f.asc ? "(e.time_us, e.idx) > (?, ?)" : "(e.time_us, e.idx) < (?, ?)");
    params.push(f.cursor.timeUs, f.cursor.idx);
  }
  const dir = f.asc ? "ASC" : "DESC";
  const sql =
    `SELECT ${columns} FROM entries e${joins === "" ? "" : ` ${joins}`}` +
    (conds.length > 0 ? ` WHERE ${conds.join(" AND ")}` : "") +
    ` ORDER BY e.time_us ${dir}, e.idx ${dir} LIMIT ?`;
  params.push(f.limit + 1);
  return { sql, params };
}
