// What a policy would do to a recorded stream of events: per event the apiserver's
// decision, and overall the volume kept and dropped per level and per rule, projected to a
// day at the rate seen in the input. Pure: the CLI reads files and prints.
import { randomBytes } from "node:crypto";
import { createIngestTransform } from "../ingest-transform.js";
import { LEVELS, type AuditEvent, type Level, type Stage } from "../types.js";
import { attributesFromEvent } from "./attributes.js";
import { createPolicyEvaluator } from "./evaluate.js";
import type { Policy, PolicyRule } from "./types.js";

/** One line of `policy test -o jsonl`. */
export interface EventDecision {
  auditID: string;
  stage: Stage;
  level: Level;
  omitStages: Stage[];
  rule: number | null;
}

export type DropReason = "level-none" | "omitted-stage";

export interface EventImpact {
  decision: EventDecision;
  dropped: DropReason | null;
  /** Bytes of the event as received (compact JSON plus newline). */
  inputBytes: number;
  /** Bytes kubetrail would store with this policy at ingest (0 when dropped). */
  storedBytes: number;
  /** Level of the stored event: the lower of the sent and the policy level. */
  storedLevel: Level | null;
}

export interface Tally {
  events: number;
  inputBytes: number;
  storedBytes: number;
}

export interface RuleTally extends Tally {
  /** null: no rule matched. */
  rule: number | null;
  level: Level;
  description: string;
  dropped: number;
}

export interface ImpactSummary {
  events: number;
  inputBytes: number;
  storedEvents: number;
  storedBytes: number;
  /** Keyed by the level the policy gives (None included). */
  byLevel: Record<Level, Tally>;
  byRule: RuleTally[];
  dropped: Record<DropReason, Tally>;
  /** Seconds between the first request received and the last stage timestamp; null if unknown or zero. */
  spanSeconds: number | null;
  perDay: { inputBytes: number; storedBytes: number; storedEvents: number } | null;
}

const emptyTally = (): Tally => ({ events: 0, inputBytes: 0, storedBytes: 0 });

/** A short, human description of what a rule selects, for summaries. */
export function describeRule(rule: PolicyRule): string {
  const parts: string[] = [];
  const list = (name: string, values: string[]) => {
    if (values.length > 0) parts.push(`${name}=${values.map((v) => (v === "" ? '""' : v)).join(",")}`);
  };
  list("users", rule.users);
  list("groups", rule.userGroups);
  list("verbs", rule.verbs);
  list(
    "resources",
    rule.resources.map((g) => {
      const names = g.resourceNames.length > 0 ? `[${g.resourceNames.join("|")}]` : "";
      if (g.resources.length === 0) return `${g.group === "" ? "core" : g.group}/*`;
      const res = g.resources.join("|") + names;
      return g.group === "" ? res : `${g.group}/${res}`;
    }),
  );
  list("namespaces", rule.namespaces);
  list("urls", rule.nonResourceURLs);
  return parts.length > 0 ? parts.join(" ") : "(everything)";
}

/**
 * Accumulates what a policy does to a stream of events. Only tallies are kept, so a day of
 * audit log can be streamed through it.
 */
export class PolicyImpact {
  private readonly evaluate;
  private readonly transform;
  private readonly byLevel = Object.fromEntries(LEVELS.map((l) => [l, emptyTally()])) as Record<Level, Tally>;
  private readonly dropped: Record<DropReason, Tally> = {
    "level-none": emptyTally(),
    "omitted-stage": emptyTally(),
  };
  private readonly rules = new Map<number | null, RuleTally>();
  private readonly total = { events: 0, inputBytes: 0, storedEvents: 0, storedBytes: 0 };
  private minStart = Infinity;
  private maxEnd = -Infinity;

  constructor(readonly policy: Policy) {
    this.evaluate = createPolicyEvaluator(policy);
    // A throwaway key: the stored size is what matters here; tags have a fixed length.
    this.transform = createIngestTransform({ policy, redaction: { key: randomBytes(32) } });
  }

  add(event: AuditEvent): EventImpact {
    const d = this.evaluate.evaluate(attributesFromEvent(event));
    const inputBytes = Buffer.byteLength(JSON.stringify(event)) + 1;
    const dropped: DropReason | null =
      d.level === "None" ? "level-none" : d.omitStages.includes(event.stage) ? "omitted-stage" : null;
    const stored = dropped ? null : this.transform(event);
    const im: EventImpact = {
      decision: {
        auditID: event.auditID,
        stage: event.stage,
        level: d.level,
        omitStages: d.omitStages,
        rule: d.rule,
      },
      dropped,
      inputBytes,
      storedBytes: stored ? Buffer.byteLength(JSON.stringify(stored)) + 1 : 0,
      storedLevel: stored ? stored.level : null,
    };
    this.total.events++;
    this.total.inputBytes += im.inputBytes;
    this.total.storedBytes += im.storedBytes;
    if (!dropped) this.total.storedEvents++;
    add(this.byLevel[d.level], im);
    if (dropped) add(this.dropped[dropped], im);
    let rt = this.rules.get(d.rule);
    if (!rt) {
      const r = d.rule === null ? undefined : this.policy.rules[d.rule];
      rt = {
        rule: d.rule,
        level: d.level,
        description: r ? describeRule(r) : "(no rule matched)",
        dropped: 0,
        ...emptyTally(),
      };
      this.rules.set(d.rule, rt);
    }
    add(rt, im);
    if (dropped) rt.dropped++;
    const start = Date.parse(event.requestReceivedTimestamp);
    const end = Date.parse(event.stageTimestamp);
    if (Number.isFinite(start)) this.minStart = Math.min(this.minStart, start);
    if (Number.isFinite(end)) this.maxEnd = Math.max(this.maxEnd, end);
    return im;
  }

  summary(): ImpactSummary {
    const spanMs = this.maxEnd - this.minStart;
    const spanSeconds = Number.isFinite(spanMs) && spanMs > 0 ? spanMs / 1000 : null;
    const scale = spanSeconds ? 86400 / spanSeconds : null;
    const t = this.total;
    return {
      ...t,
      byLevel: structuredClone(this.byLevel),
      byRule: [...this.rules.values()]
        .map((r) => ({ ...r }))
        .sort((a, b) => (a.rule ?? Infinity) - (b.rule ?? Infinity)),
      dropped: structuredClone(this.dropped),
      spanSeconds,
      perDay: scale
        ? {
            inputBytes: t.inputBytes * scale,
            storedBytes: t.storedBytes * scale,
            storedEvents: t.storedEvents * scale,
          }
        : null,
    };
  }
}

function add(t: Tally, im: EventImpact): void {
  t.events++;
  t.inputBytes += im.inputBytes;
  t.storedBytes += im.storedBytes;
}

export interface PolicyComparison {
  /** `from → to` stored level (or "dropped") for events the two policies treat differently. */
  changes: { from: string; to: string; events: number }[];
  storedEvents: [number, number];
  storedBytes: [number, number];
  perDayStoredBytes: [number, number] | null;
}

const outcome = (im: EventImpact) => im.storedLevel ?? "dropped";

/** Compares two policies over the same events: feed both impacts of each event to `add`. */
export class ComparisonTally {
  private readonly counts = new Map<string, { from: string; to: string; events: number }>();

  add(a: EventImpact, b: EventImpact): void {
    const from = outcome(a);
    const to = outcome(b);
    if (from === to) return;
    const key = `${from}>${to}`;
    const c = this.counts.get(key);
    if (c) c.events++;
    else this.counts.set(key, { from, to, events: 1 });
  }

  result(a: ImpactSummary, b: ImpactSummary): PolicyComparison {
    return {
      changes: [...this.counts.values()].map((c) => ({ ...c })).sort((x, y) => y.events - x.events),
      storedEvents: [a.storedEvents, b.storedEvents],
      storedBytes: [a.storedBytes, b.storedBytes],
      perDayStoredBytes: a.perDay && b.perDay ? [a.perDay.storedBytes, b.perDay.storedBytes] : null,
    };
  }
}
