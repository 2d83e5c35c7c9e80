// Runs the rule set over log entries in order. Pure apart from its in-memory state (windows,
// learned wildcard roles, recently alerted requests), which is derived from the entries alone,
// so replaying the same entries always yields the same alerts.
import type { EventDigest } from "../audit/event-digest.js";
import type { AuditEvent } from "../audit/types.js";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { buildAlert, type Trigger } from "./alert-record.js";
import { isRecord } from "../json/record.js";
import { globMatcher } from "./glob.js";
import { SlidingWindows } from "./window.js";
import {
  evaluable,
  type Alert,
  type AllowList,
  type DetectEntry,
  type Rule,
  type RuleState,
} from "./types.js";

// A request appears once per stage; remembering this many (rule, auditID) pairs keeps one
// alert per request even when ResponseStarted and ResponseComplete both match.
const RECENT_CAPACITY = 100_000;
/** Candidate lists cached per (resource, verb) at most; a cluster uses a few hundred. */
const CANDIDATE_LISTS = 10_000;

interface CompiledRule {
  rule: Rule;
  allowed: (e: AuditEvent) => boolean;
  windows?: SlidingWindows<Trigger>;
}

export interface EngineStats {
  entries: number;
  events: number;
  /** kubetrail's own records (alerts, decisions): never evaluated, so alerts never alert. */
  ownRecords: number;
  unreadable: number;
  alerts: number;
}

/** All counters at zero: a fresh engine, or one whose stats were reset. */
export function emptyStats(): EngineStats {
  return { entries: 0, events: 0, ownRecords: 0, unreadable: 0, alerts: 0 };
}

export class RuleEngine {
  private readonly compiled: CompiledRule[];
  /**
   * The rules worth evaluating per (objectRef.resource, verb), lower-cased, in rule order;
   * built on first sight. Most events are reads no rule cares about, and skip every rule here.
   */
  private readonly byResource = new Map<string, Map<string, CompiledRule[]>>();
  /** The same for events without a resource (non-resource URLs such as /healthz). */
  private readonly noResource = new Map<string, CompiledRule[]>();
  private cachedLists = 0;
  private readonly observers: Rule[];
  private readonly state: RuleState = { wildcardRoles: new Set() };
  private readonly recent = new Map<string, true>();
  private readonly decoder = new TextDecoder();
  readonly stats: EngineStats = emptyStats();

  constructor(readonly rules: Rule[]) {
    this.compiled = rules.map((rule) => ({
      rule,
      allowed: compileAllow(rule.allow),
      windows: rule.window && new SlidingWindows<Trigger>(rule.window.threshold, rule.window.windowMs),
    }));
    this.observers = rules.filter((r) => r.observe);
  }

  private candidates(resource: string | undefined, verb: string): CompiledRule[] {
    const r = resource?.toLowerCase();
    let byVerb = r === undefined ? this.noResource : this.byResource.get(r);
    // Resources and verbs come from the events; a cap keeps junk values from growing the cache forever.
    const roomLeft = this.cachedLists < CANDIDATE_LISTS;
    if (!byVerb) {
      byVerb = new Map();
      if (roomLeft) this.byResource.set(r as string, byVerb);
    }
    const v = verb.toLowerCase();
    let list = byVerb.get(v);
    if (!list) {
      list = this.compiled.filter(
        ({ rule }) =>
          (!rule.resources || (r !== undefined && rule.resources.has(r))) &&
          (!rule.verbs || rule.verbs.has(v)),
      );
      if (roomLeft) {
        byVerb.set(v, list);
        this.cachedLists++;
      }
    }
    return list;
  }

  /** Zeroes the counters, e.g. after replaying history that was already evaluated once. */
  resetStats(): void {
    Object.assign(this.stats, emptyStats());
  }

  /** Evaluates one log entry, whether ingest handed it over parsed or it was read as bytes. */
  evaluate(entry: DetectEntry): Alert[] {
    if (!evaluable(entry)) return [];
    if ("data" in entry) {
      const d = entry.digest;
      if (d === undefined) return this.evaluateEntry(entry.index, entry.data);
      const need = this.need(d);
      // Most events are reads no rule looks at: their bytes need not be parsed at all.
      if (need === Need.Nothing) {
        this.stats.entries++;
        this.stats.events++;
        return [];
      }
      if (need === Need.WithoutBodies && d.withoutBodies !== undefined) {
        this.stats.entries++;
        return this.evaluateObject(entry.index, JSON.parse(d.withoutBodies));
      }
      return this.evaluateEntry(entry.index, entry.data);
    }
    this.stats.entries++;
    return this.evaluateObject(entry.index, entry.parsed);
  }

  /** Evaluates one stored entry (JSON bytes); entries that are not audit events yield nothing. */
  evaluateEntry(index: number, data: Uint8Array): Alert[] {
    this.stats.entries++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.decoder.decode(data));
    } catch {
      this.stats.unreadable++;
      return [];
    }
    return this.evaluateObject(index, parsed);
  }

  /** Evaluates one parsed entry; `index` is its position in the log (or input, offline). */
  evaluateObject(index: number, value: unknown): Alert[] {
    if (!isRecord(value)) {
      this.stats.unreadable++;
      return [];
    }
    if (value.apiVersion === KUBETRAIL_API_VERSION) {
      this.stats.ownRecords++;
      return [];
    }
    if (typeof value.auditID !== "string" || typeof value.verb !== "string" || !isRecord(value.user)) {
      this.stats.unreadable++;
      return [];
    }
    const event = value as unknown as AuditEvent;
    this.stats.events++;
    // At RequestReceived the outcome is unknown; later stages of the same request decide.
    if (event.stage === "RequestReceived") return [];
    const alerts: Alert[] = [];
    const resource = event.objectRef?.resource;
    for (const c of this.candidates(typeof resource === "string" ? resource : undefined, event.verb)) {
      if (!c.rule.match(event, this.state) || !c.allowed(event)) continue;
      if (!this.firstTime(c.rule.id, event.auditID)) continue;
      const trigger = { event, index };
      if (!c.windows || !c.rule.window) {
        alerts.push(buildAlert(c.rule, [trigger]));
        continue;
      }
      const key = c.rule.window.keyOf(event);
      const time = eventTime(event);
      if (key === undefined || Number.isNaN(time)) continue;
      const burst = c.windows.add(key, time, trigger);
      if (burst) alerts.push(buildAlert(c.rule, burst));
    }
    for (const r of this.observers) r.observe?.(event, this.state);
    this.stats.alerts += alerts.length;
    return alerts;
  }

  /** True unless no rule can match, or learn from, the event with this digest. */
  mayMatch(d: EventDigest): boolean {
    return this.need(d) !== Need.Nothing;
  }

  /**
   * How much of the event with this digest the rules need, from the engine's candidate lists
   * by (resource, verb), each rule's own pre-check and the observers' lists.
   */
  private need(d: EventDigest): Need {
    if (d.stage === "RequestReceived") return Need.Nothing;
    let need = Need.Nothing;
    for (const { rule } of this.candidates(d.resource, d.verb)) {
      if (rule.needs && !rule.needs(d)) continue;
      if (rule.readsBodies) return Need.Everything;
      need = Need.WithoutBodies;
    }
    for (const r of this.observers) {
      if (r.resources && (d.resource === undefined || !r.resources.has(d.resource))) continue;
      if (r.verbs && !r.verbs.has(d.verb)) continue;
      if (r.readsBodies) return Need.Everything;
      need = Need.WithoutBodies;
    }
    return need;
  }

  private firstTime(ruleId: string, auditID: string): boolean {
    const key = `${ruleId}\u0000${auditID}`;
    if (this.recent.has(key)) return false;
    this.recent.set(key, true);
    if (this.recent.size > RECENT_CAPACITY) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    return true;
  }
}

const enum Need {
  Nothing,
  /** The event without requestObject and responseObject. */
  WithoutBodies,
  Everything,
}

/** Milliseconds since the epoch of the event's stage; microseconds do not matter for windows. */
export function eventTime(e: AuditEvent): number {
  return Date.parse(e.stageTimestamp ?? e.requestReceivedTimestamp);
}

function compileAllow(allow: AllowList | undefined): (e: AuditEvent) => boolean {
  if (!allow) return () => true;
  const users = allow.users.map(globMatcher);
  const groups = allow.groups.map(globMatcher);
  const namespaces = allow.namespaces.map(globMatcher);
  if (users.length + groups.length + namespaces.length === 0) return () => true;
  return (e) => {
    const user = e.user?.username ?? "";
    if (users.some((m) => m(user))) return false;
    if ((e.user?.groups ?? []).some((g) => groups.some((m) => m(g)))) return false;
    const ns = e.objectRef?.namespace;
    return !(ns !== undefined && namespaces.some((m) => m(ns)));
  };
}
