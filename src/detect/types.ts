// Shapes shared by the rule engine, the Sigma loader, the detector and the sinks.
import type { EventDigest } from "../audit/event-digest.js";
import type { AuditEvent } from "../audit/types.js";
import type { LogEntry } from "../store/types.js";
import { CodedError } from "../errors.js";

/** Sigma's levels, lowest first; built-in rules use the same scale so one threshold fits both. */
export const SEVERITIES = ["informational", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export function isSeverity(value: unknown): value is Severity {
  return typeof value === "string" && (SEVERITIES as readonly string[]).includes(value);
}

/** Counts matching events per key over an event-time window; fires once the threshold is reached. */
export interface WindowSpec {
  /** What the count is grouped by, e.g. "user.username"; shown in descriptions. */
  by: string;
  keyOf(event: AuditEvent): string | undefined;
  threshold: number;
  windowMs: number;
}

export interface Rule {
  /** Stable identifier: used in alerts, allow-lists and `rules list`. */
  id: string;
  title: string;
  severity: Severity;
  description: string;
  /** "builtin" or the file the rule was loaded from. */
  source: string;
  /** Stateless predicate over one event; for windowed rules it selects what is counted. */
  match(event: AuditEvent, state: RuleState): boolean;
  /**
   * A pre-check on the event's digest (what a receive worker tells with the stored bytes):
   * false means `match` is false for the event, which then need not be parsed. Must never be
   * false for an event `match` accepts. Rules with `resources` and `verbs` need it only to
   * narrow further.
   */
  needs?(digest: EventDigest): boolean;
  window?: WindowSpec;
  /**
   * When set, the rule can only match events whose objectRef.resource (lower-cased) is in
   * this set; the engine skips it for other events. Must never exclude an event it matches.
   */
  resources?: ReadonlySet<string>;
  /** Likewise for the verb (lower-cased): the engine skips the rule for any other verb. */
  verbs?: ReadonlySet<string>;
  /** Users, groups and namespaces exempt from this rule (from the rules config). */
  allow?: AllowList;
  /** Lets a rule learn from events it does not alert on (e.g. which roles grant `*`). */
  observe?(event: AuditEvent, state: RuleState): void;
  /**
   * The rule matches requests whatever their outcome: its alerts say whether the triggering
   * request succeeded (and their description, when it did not).
   */
  reportsOutcome?: boolean;
  /**
   * `match` or `observe` reads requestObject or responseObject. Rules without it are given
   * the event without its bodies when that is at hand (EventDigest.withoutBodies).
   */
  readsBodies?: boolean;
}

/** Facts shared between rules, rebuilt from the log on start like every other derived state. */
export interface RuleState {
  /** Keys "ClusterRole/<name>" and "Role/<namespace>/<name>" of roles seen granting `*`. */
  wildcardRoles: Set<string>;
}

export interface AllowList {
  users: string[];
  groups: string[];
  namespaces: string[];
}

/**
 * An entry kubetrail still held parsed when it was stored: an audit event from ingest
 * (IngestPipeline.onStored) or one of the detector's own alerts. The very object that was
 * encoded into the log, so evaluating it equals evaluating the stored bytes.
 */
export interface ParsedEntry {
  index: number;
  parsed: AuditEvent | Alert;
}

/**
/**
 * What the detector is handed: an entry as stored bytes (read from the log, or from a receive
 * worker with its digest), as ingest parsed it, or gone (pruned or erased: nothing to
 * evaluate, but the detector moves past it).
 */
export type DetectEntry = (LogEntry & { digest?: EventDigest }) | ParsedEntry;

/** An entry with something to evaluate: its bytes or the parsed object. */
export type EvaluableEntry = Exclude<DetectEntry, { gone: object }>;

/** Whether `e` has content to evaluate (it is not a pruned or erased entry). */
export function evaluable(e: DetectEntry): e is EvaluableEntry {
  return !("gone" in e) || e.gone === undefined;
}

/** Where one triggering event sits: in the log (index) and in the cluster (auditID). */
export interface EventRef {
  index: number;
  auditID: string;
}

export interface AlertObject {
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The alert as it is recorded in the log (kubetrail.dev/v1 Alert) and handed to sinks. */
export interface Alert {
  apiVersion: "kubetrail.dev/v1";
  kind: "Alert";
  rule: string;
  title: string;
  severity: Severity;
  description: string;
  user: string;
  object: AlertObject;
  /** The triggering event's stageTimestamp, exactly as the apiserver wrote it. */
  time: string;
  auditIDs: string[];
  /** Log indexes of the triggering entries, so their inclusion proofs can be fetched. */
  indexes: number[];
  source: string;
  /** For rules that match attempts (Rule.reportsOutcome): did the triggering request succeed? */
  succeeded?: boolean;
  /** Its HTTP status, when the event recorded one. */
  responseCode?: number;
}

/** An alert after it was appended: its own position in the log is known. */
export interface RecordedAlert extends Alert {
  /** Index of the Alert entry itself; undefined when detection runs offline (`rules test`). */
  alertIndex?: number;
}

export interface AlertSink {
  /** Short label used in metrics, e.g. "alertmanager". */
  readonly name: string;
  /** Delivers one alert; rejects on any failure so the dispatcher can retry. */
  send(alert: RecordedAlert): Promise<void>;
  close?(): Promise<void>;
}

export type DetectErrorCode = "rule" | "config" | "events" | "sink" | "position";

/** Detection's errors: rules that do not load, bad settings, a sink or the position file failing. */
export class DetectError extends CodedError<DetectErrorCode> {}
