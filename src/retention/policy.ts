// A retention policy: how long each entry of the log is kept, by age, optionally by class of
// request (resource, verb, namespace). The first rule that matches an audit event decides; an
// event no rule matches gets `keep`; kubetrail's own records (alerts, admission decisions, erasure
// records, quarantined items) get `records` (default: `keep`). A retention record is never what
// holds pruning back: each says how far the log is pruned, so the newest covers every range
// pruned before it (and a run never removes its own). Durations are whole numbers of
// hours, days, weeks or years (`36h`, `30d`, `12w`, `7y`, a year being 365 days), or `forever`.
//
//   apiVersion: kubetrail.dev/v1
//   kind: RetentionPolicy
//   metadata: { name: compliance }
//   keep: 400d
//   records: 400d
//   rules:
//     - { resources: [secrets], keep: 7y }
//     - { resources: [pods], verbs: [get, list, watch], keep: 30d }
//     - { namespaces: [kube-system], keep: 90d }
import { createHash } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { CodedError } from "../errors.js";
import { RETENTION_RECORD_KIND } from "../records/retention-record.js";

export type RetentionErrorCode = "invalid" | "io" | "refused";

export class RetentionError extends CodedError<RetentionErrorCode> {}

/** A keep period in microseconds, or null for forever. */
export type Keep = number | null;

export interface RetentionRule {
  /** `resource` or `group/resource` (`secrets`, `apps/deployments`); any when absent. */
  resources?: string[];
  verbs?: string[];
  namespaces?: string[];
  keep: Keep;
}

export interface RetentionPolicy {
  name: string;
  keep: Keep;
  records: Keep;
  rules: RetentionRule[];
  /** SHA-256 of the policy text, hex: which policy a record names. */
  digest: string;
}

const UNIT_US: Record<string, number> = {
  h: 3600e6,
  d: 86_400e6,
  w: 7 * 86_400e6,
  y: 365 * 86_400e6,
};

/** `30d` → microseconds; `forever` → null. */
export function parseKeep(text: unknown, where: string): Keep {
  if (text === "forever") return null;
  const m = typeof text === "string" ? /^([0-9]{1,6})([hdwy])$/.exec(text) : null;
  if (m === null)
    throw new RetentionError(
      "invalid",
      `${where}: ${JSON.stringify(text)} is not a duration (a whole number and h, d, w or y, e.g. 30d; or forever)`,
    );
  return Number(m[1]) * UNIT_US[m[2]!]!;
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string" && v !== ""))
    throw new RetentionError("invalid", `${where}: a non-empty list of names`);
  return value as string[];
}

const TOP_FIELDS = new Set(["apiVersion", "kind", "metadata", "keep", "records", "rules"]);
const RULE_FIELDS = new Set(["resources", "verbs", "namespaces", "keep"]);

/** Parses a policy file's text (YAML or JSON); `source` names it in errors. */
export function parseRetentionPolicy(text: string, source: string): RetentionPolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RetentionError("invalid", `${source}: not YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new RetentionError("invalid", `${source}: not a RetentionPolicy object`);
  const d = doc as Record<string, unknown>;
  if (d["apiVersion"] !== "kubetrail.dev/v1" || d["kind"] !== "RetentionPolicy")
    throw new RetentionError(
      "invalid",
      `${source}: apiVersion kubetrail.dev/v1, kind RetentionPolicy expected`,
    );
  for (const k of Object.keys(d))
    if (!TOP_FIELDS.has(k)) throw new RetentionError("invalid", `${source}: unknown field ${k}`);
  const metadata = (d["metadata"] ?? {}) as Record<string, unknown>;
  const name = typeof metadata["name"] === "string" ? metadata["name"] : "retention";
  const keep = parseKeep(d["keep"], `${source}: keep`);
  const records = d["records"] === undefined ? keep : parseKeep(d["records"], `${source}: records`);
  const rawRules = d["rules"] ?? [];
  if (!Array.isArray(rawRules)) throw new RetentionError("invalid", `${source}: rules: a list`);
  const rules = rawRules.map((r: unknown, i): RetentionRule => {
    const where = `${source}: rules[${i}]`;
    if (r === null || typeof r !== "object" || Array.isArray(r))
      throw new RetentionError("invalid", `${where}: an object`);
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o))
      if (!RULE_FIELDS.has(k)) throw new RetentionError("invalid", `${where}: unknown field ${k}`);
    const rule: RetentionRule = { keep: parseKeep(o["keep"], `${where}.keep`) };
    const resources = stringList(o["resources"], `${where}.resources`);
    const verbs = stringList(o["verbs"], `${where}.verbs`);
    const namespaces = stringList(o["namespaces"], `${where}.namespaces`);
    if (resources) rule.resources = resources;
    if (verbs) rule.verbs = verbs;
    if (namespaces) rule.namespaces = namespaces;
    return rule;
  });
  return { name, keep, records, rules, digest: createHash("sha256").update(text).digest("hex") };
}

/** What retention looks at in one entry. */
export interface EntryClass {
  /** Microseconds since the epoch the entry is dated, or null when it has no readable date. */
  timeUs: number | null;
  /** False for kubetrail's own records. */
  audit: boolean;
  /** A record's kind (Alert, RetentionRecord, …). */
  kind?: string;
  resource?: string;
  group?: string;
  verb?: string;
  namespace?: string;
}

function matches(rule: RetentionRule, c: EntryClass): boolean {
  if (rule.verbs && (c.verb === undefined || !rule.verbs.includes(c.verb))) return false;
  if (rule.namespaces && (c.namespace === undefined || !rule.namespaces.includes(c.namespace))) return false;
  if (rule.resources) {
    if (c.resource === undefined) return false;
    const qualified = c.group ? `${c.group}/${c.resource}` : c.resource;
    if (!rule.resources.includes(c.resource) && !rule.resources.includes(qualified)) return false;
  }
  return true;
}

/** How long `c` is kept under `policy`, and what in the policy says so. */
export function keepOf(policy: RetentionPolicy, c: EntryClass): { keep: Keep; by: string } {
  if (!c.audit)
    return c.kind === RETENTION_RECORD_KIND
      ? { keep: 0, by: "a newer retention record covers it" }
      : { keep: policy.records, by: "records" };
  for (const [i, rule] of policy.rules.entries())
    if (matches(rule, c)) return { keep: rule.keep, by: `rule ${i + 1}` };
  return { keep: policy.keep, by: "keep" };
}

/** Whether an entry of class `c` may be removed at `nowUs`; an undated entry never is. */
export function expired(policy: RetentionPolicy, c: EntryClass, nowUs: number): boolean {
  const { keep } = keepOf(policy, c);
  return keep !== null && c.timeUs !== null && c.timeUs + keep <= nowUs;
}

/** Why an entry of class `c` is still kept: its class, the policy's part that keeps it, and until when. */
export function keptBecause(policy: RetentionPolicy, c: EntryClass): string {
  const { keep, by } = keepOf(policy, c);
  const what = c.audit
    ? [c.verb, c.group ? `${c.group}/${c.resource}` : c.resource, c.namespace && `in ${c.namespace}`]
        .filter(Boolean)
        .join(" ") || "an audit event"
    : `${/^[AEIOU]/.test(c.kind ?? "") ? "an" : "a"} ${c.kind ?? "record"}`;
  if (c.timeUs === null) return `${what}, undated: never expired`;
  if (keep === null) return `${what}, kept forever by ${by}`;
  return `${what}, kept by ${by} until ${new Date((c.timeUs + keep) / 1000).toISOString()}`;
}

/** RFC 3339 with any fraction → microseconds, or null. */
export function parseTimeUs(text: unknown): number | null {
  if (typeof text !== "string") return null;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (m === null) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return null;
  return ms * 1000 + Number((m[2] ?? "").padEnd(6, "0").slice(0, 6));
}

/** The retention class of one entry's bytes (an audit event or a kubetrail record). */
export function classify(entry: Uint8Array): EntryClass {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(
      Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).toString("utf8"),
    ) as Record<string, unknown>;
  } catch {
    return { timeUs: null, audit: false };
  }
  if (doc["kind"] !== "Event") {
    // Every kubetrail record (Alert, QuarantinedItem, RetentionRecord, …) is dated by `time`.
    const kind = typeof doc["kind"] === "string" ? doc["kind"] : undefined;
    return { timeUs: parseTimeUs(doc["time"]), audit: false, ...(kind !== undefined ? { kind } : {}) };
  }
  const ref = (doc["objectRef"] ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  const c: EntryClass = {
    timeUs: parseTimeUs(doc["stageTimestamp"] ?? doc["requestReceivedTimestamp"]),
    audit: true,
  };
  const resource = str(ref["resource"]);
  const group = str(ref["apiGroup"]);
  const verb = str(doc["verb"]);
  const namespace = str(ref["namespace"]);
  if (resource) c.resource = resource;
  if (group) c.group = group;
  if (verb) c.verb = verb;
  if (namespace) c.namespace = namespace;
  return c;
}
