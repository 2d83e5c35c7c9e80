// One pass over the in-memory columns gives what the UI's timeline needs for a filter: the
// number of matching requests, a histogram over time and the top values of each facet. Rows
// match exactly as compileWhere's SQL matches them (query.ts), so the counts agree with the
// list the same filter returns; stats.test.ts checks that against SQLite.
//
// Facet counts are disjunctive: a facet is counted under every condition except its own, so a
// selected user's facet still shows the other users one could add to the selection.
import type { Cursor, EventFilter } from "../query.js";
import { TIME_BLOCK, type Columns, type Dictionary, type ResourceKey } from "./columns.js";

export const FACETS = ["users", "verbs", "resources", "namespaces", "codes"] as const;
export type Facet = (typeof FACETS)[number];

export interface FacetValue {
  /** The value as a filter takes it (`resource=` spelling for resources); null: the field is absent. */
  key: string | null;
  count: number;
}

export interface Histogram {
  fromUs: number;
  toUs: number;
  bucketUs: number;
  counts: number[];
}

export interface StatsAnswer {
  total: number;
  histogram: Histogram;
  facets: Record<Facet, FacetValue[]>;
}

/** What matching needs beyond the filter: now (for `since`) and what index.db resolved. */
export interface MatchOptions {
  nowUs: number;
  /** The group_sets ids holding any of filter.groups (from index.db); required when it has groups. */
  groupSets?: ReadonlySet<number>;
  /** The log indexes of filter.auditIDs' entries (from index.db); required when it has audit IDs. */
  auditIdxs?: ReadonlySet<number>;
}

export interface AggregateOptions extends MatchOptions {
  /** Largest number of histogram bars. */
  buckets: number;
  /** Values per facet. */
  top: number;
}

/** Bar widths a histogram may use, so bars fall on round times. */
const STEPS_US = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400, 604800].map(
  (s) => s * 1e6,
);

export function bucketWidth(spanUs: number, buckets: number): number {
  const want = Math.max(1, spanUs / Math.max(1, buckets));
  for (const s of STEPS_US) if (s >= want) return s;
  const week = STEPS_US[STEPS_US.length - 1] as number;
  return Math.ceil(want / week) * week;
}

function mask(dict: Dictionary<string>, values: readonly string[]): Uint8Array | null {
  if (values.length === 0) return null;
  const m = new Uint8Array(dict.size);
  for (const v of values) {
    const id = dict.find(v);
    if (id !== undefined) m[id] = 1;
  }
  return m;
}

/** Like mask(), but an empty list allows nothing (rather than setting no condition). */
function allowed(dict: Dictionary<string>, values: readonly string[]): Uint8Array {
  return mask(dict, values) ?? new Uint8Array(dict.size);
}

function resourceMask(dict: Dictionary<ResourceKey>, filter: EventFilter): Uint8Array | null {
  if (filter.resources.length === 0) return null;
  const m = new Uint8Array(dict.size);
  dict.values.forEach((r, id) => {
    const hit = filter.resources.some(
      (s) =>
        r.resource === s.resource &&
        (s.subresource === undefined
          ? r.subresource === null
          : s.subresource === "*" || r.subresource === s.subresource) &&
        (s.apiGroup === undefined || r.apiGroup === s.apiGroup),
    );
    if (hit) m[id] = 1;
  });
  return m;
}

function codeMask(filter: EventFilter): Uint8Array | null {
  if (filter.codes.length === 0) return null;
  const m = new Uint8Array(1000);
  for (const c of filter.codes)
    for (let code = Math.max(0, c.min); code <= Math.min(999, c.max); code++) m[code] = 1;
  return m;
}

function setMask(ids: ReadonlySet<number> | undefined, wanted: boolean): Uint8Array | null {
  if (!wanted) return null;
  let max = -1;
  for (const id of ids ?? []) if (id > max) max = id;
  const m = new Uint8Array(max + 1);
  for (const id of ids ?? []) if (id >= 0) m[id] = 1;
  return m;
}

const STAGE_RANKS: Record<string, number> = {
  RequestReceived: 0,
  ResponseStarted: 1,
  Panic: 2,
  ResponseComplete: 3,
};

/** `resource[.group][/subresource]`, the spelling `--resource` takes (as `top resources` prints it). */
export function resourceFilterKey(r: ResourceKey): string {
  const group = r.apiGroup ? `.${r.apiGroup}` : "";
  const sub = r.subresource === null ? "" : `/${r.subresource}`;
  return `${r.resource}${group}${sub}`;
}

/** The `top` largest counts; `counts` is by value id + 1, slot 0 counting rows without the field. */
function topOf(counts: Int32Array, keyOf: (id: number) => string, top: number): FacetValue[] {
  const out: FacetValue[] = [];
  for (let slot = 1; slot < counts.length; slot++) {
    const c = counts[slot] as number;
    if (c > 0) out.push({ key: keyOf(slot - 1), count: c });
  }
  if ((counts[0] as number) > 0) out.push({ key: null, count: counts[0] as number });
  out.sort((a, b) => b.count - a.count || ((a.key ?? "") < (b.key ?? "") ? -1 : 1));
  return out.slice(0, top);
}

/** The earliest time the filter admits (0: none), as compileWhere computes it. */
export function lowerBound(filter: EventFilter, nowUs: number): number {
  return Math.max(filter.sinceUs === undefined ? 0 : nowUs - filter.sinceUs, filter.fromUs ?? 0);
}

/** The time window a histogram covers: the filter's bounds, else the rows' own. */
function window(
  c: Columns,
  filter: EventFilter,
  nowUs: number,
): { lower: number; upper: number; from: number; to: number } {
  const lower = lowerBound(filter, nowUs);
  const upper = filter.toUs ?? Infinity;
  const from = lower > 0 ? lower : Number.isFinite(c.minTimeUs) ? c.minTimeUs : nowUs;
  // Open-ended windows reach the newest row (clocks skew: it may be after now), and now for `since`.
  const newest = Number.isFinite(c.maxTimeUs) ? c.maxTimeUs : from;
  const to = Number.isFinite(upper) ? upper : Math.max(newest, filter.sinceUs !== undefined ? nowUs : from);
  return { lower, upper, from, to: Math.max(to, from) };
}

/** The filter compiled against one state of the columns: a mask per coded field (null: no condition). */
interface Matcher {
  c: Columns;
  lower: number;
  upper: number;
  /** Rows [0, stop) are below the filter's log size. */
  stop: number;
  stageMask: Uint8Array | null;
  nameMask: Uint8Array | null;
  srcMask: Uint8Array | null;
  decMask: Uint8Array | null;
  groupMask: Uint8Array | null;
  /** The namespaces authorization allows (filter.allowedNamespaces); rows of no namespace never match it. */
  allowedMask: Uint8Array | null;
  auditIdxs: ReadonlySet<number> | null;
  /** The facets' own conditions, in FACETS order. */
  facetMasks: (Uint8Array | null)[];
}

function compile(c: Columns, filter: EventFilter, opts: MatchOptions): Matcher {
  const stageMask = filter.stages.length === 0 ? null : new Uint8Array(4);
  for (const s of filter.stages) (stageMask as Uint8Array)[STAGE_RANKS[s] as number] = 1;
  return {
    c,
    lower: lowerBound(filter, opts.nowUs),
    upper: filter.toUs ?? Infinity,
    stop: filter.logSize === undefined ? c.length : Math.min(c.length, filter.logSize - c.base),
    stageMask,
    nameMask: mask(c.names, filter.names),
    srcMask: mask(c.sources, filter.sourceIPs),
    decMask: mask(c.decisions, filter.decisions),
    groupMask: setMask(opts.groupSets, filter.groups.length > 0),
    allowedMask:
      filter.allowedNamespaces === undefined ? null : allowed(c.namespaces, filter.allowedNamespaces),
    auditIdxs: filter.auditIDs.length > 0 ? (opts.auditIdxs ?? new Set<number>()) : null,
    facetMasks: [
      mask(c.users, filter.users),
      mask(c.verbs, filter.verbs),
      resourceMask(c.resources, filter),
      mask(c.namespaces, filter.namespaces),
      codeMask(filter),
    ],
  };
}

/**
 * Every condition but the facets' own: stage (or final), time, name, source, decision, groups,
 * the namespaces authorization allows, audit IDs.
 */
function restMatches(m: Matcher, i: number): boolean {
  const c = m.c;
  if (m.stageMask === null) {
    if (c.final[i] !== 1) return false;
  } else {
    const s = c.stage[i] as number;
    if (s < 0 || m.stageMask[s] === 0) return false;
  }
  const t = c.time[i] as number;
  if ((m.lower > 0 && t < m.lower) || t > m.upper) return false;
  if (m.nameMask !== null && !hit(m.nameMask, c.name[i] as number)) return false;
  if (m.srcMask !== null && !hit(m.srcMask, c.source[i] as number)) return false;
  if (m.decMask !== null && !hit(m.decMask, c.decision[i] as number)) return false;
  if (m.groupMask !== null && !hit(m.groupMask, c.groupSet[i] as number)) return false;
  if (m.allowedMask !== null && !hit(m.allowedMask, c.namespace[i] as number)) return false;
  return m.auditIdxs === null || m.auditIdxs.has(c.base + i);
}

/** The row's value of each facet, in FACETS order (written into `ids`). */
function facetIds(c: Columns, i: number, ids: Int32Array): void {
  ids[0] = c.user[i] as number;
  ids[1] = c.verb[i] as number;
  ids[2] = c.resource[i] as number;
  ids[3] = c.namespace[i] as number;
  ids[4] = c.code[i] as number;
}

/** A facet's mask shifted by one slot, so an absent value (id -1) reads slot 0, which never matches. */
function shifted(m: Uint8Array | null): Uint8Array | null {
  if (m === null) return null;
  const out = new Uint8Array(m.length + 1);
  out.set(m, 1);
  return out;
}

/** Whether the filter has conditions beyond final rows and time (which the block scan handles). */
function hasRest(m: Matcher): boolean {
  return (
    m.stageMask !== null ||
    m.nameMask !== null ||
    m.srcMask !== null ||
    m.decMask !== null ||
    m.groupMask !== null ||
    m.allowedMask !== null ||
    m.auditIdxs !== null
  );
}

/** Whether block `b` may hold rows in [lower, upper], and whether all its rows are. */
function blockTime(c: Columns, b: number, lower: number, upper: number): "none" | "all" | "some" {
  const min = c.blockMin[b] as number;
  const max = c.blockMax[b] as number;
  if ((lower > 0 && max < lower) || min > upper) return "none";
  return (lower > 0 && min < lower) || max > upper ? "some" : "all";
}

/** Counts, histogram and facets of the requests matching `filter` among the rows held. */
export function aggregate(c: Columns, filter: EventFilter, opts: AggregateOptions): StatsAnswer {
  const win = window(c, filter, opts.nowUs);
  const bucketUs = bucketWidth(win.to - win.from + 1, opts.buckets);
  const origin = Math.floor(win.from / bucketUs) * bucketUs;
  const nBuckets = Math.max(1, Math.floor((win.to - origin) / bucketUs) + 1);
  const hist = new Float64Array(nBuckets);
  const m = compile(c, filter, opts);
  // Counts by facet value id + 1: slot 0 counts rows without the field.
  const uC = new Int32Array(c.users.size + 1);
  const vC = new Int32Array(c.verbs.size + 1);
  const rC = new Int32Array(c.resources.size + 1);
  const nC = new Int32Array(c.namespaces.size + 1);
  const kC = new Int32Array(1001);
  const [uM, vM, rM, nM, kM] = m.facetMasks.map(shifted) as [
    Uint8Array | null,
    Uint8Array | null,
    Uint8Array | null,
    Uint8Array | null,
    Uint8Array | null,
  ];
  const rest = hasRest(m);
  const { lower, upper } = m;
  const { final, time, user, verb, resource, namespace, code } = c;
  let total = 0;

  // The hot loop of every timeline answer: written out per facet, with no call per row.
  for (let b = 0, lo = 0; lo < m.stop; b++, lo += TIME_BLOCK) {
    const span = blockTime(c, b, lower, upper);
    if (span === "none") continue;
    const checkTime = span === "some";
    const hi = Math.min(m.stop, lo + TIME_BLOCK);
    for (let i = lo; i < hi; i++) {
      if (rest) {
        if (!restMatches(m, i)) continue;
      } else {
        if (final[i] !== 1) continue;
        if (checkTime) {
          const t = time[i] as number;
          if ((lower > 0 && t < lower) || t > upper) continue;
        }
      }
      const u = (user[i] as number) + 1;
      const v = (verb[i] as number) + 1;
      const r = (resource[i] as number) + 1;
      const n = (namespace[i] as number) + 1;
      const k = (code[i] as number) + 1;
      // A row failing two facet conditions counts nowhere; failing one, only in that facet.
      let fails = 0;
      let failed = -1;
      if (uM !== null && uM[u] === 0) {
        fails++;
        failed = 0;
      }
      if (vM !== null && vM[v] === 0) {
        fails++;
        failed = 1;
      }
      if (rM !== null && rM[r] === 0) {
        fails++;
        failed = 2;
      }
      if (nM !== null && nM[n] === 0) {
        fails++;
        failed = 3;
      }
      if (kM !== null && kM[k] === 0) {
        fails++;
        failed = 4;
      }
      if (fails === 0) {
        total++;
        const t = time[i] as number;
        if (t >= origin) {
          const bucket = Math.floor((t - origin) / bucketUs);
          if (bucket < nBuckets) hist[bucket] = (hist[bucket] as number) + 1;
        }
        uC[u] = (uC[u] as number) + 1;
        vC[v] = (vC[v] as number) + 1;
        rC[r] = (rC[r] as number) + 1;
        nC[n] = (nC[n] as number) + 1;
        kC[k] = (kC[k] as number) + 1;
      } else if (fails === 1) {
        if (failed === 0) uC[u] = (uC[u] as number) + 1;
        else if (failed === 1) vC[v] = (vC[v] as number) + 1;
        else if (failed === 2) rC[r] = (rC[r] as number) + 1;
        else if (failed === 3) nC[n] = (nC[n] as number) + 1;
        else kC[k] = (kC[k] as number) + 1;
      }
    }
  }

  const top = opts.top;
  const counted: [Int32Array, (id: number) => string][] = [
    [uC, (id) => c.users.values[id] as string],
    [vC, (id) => c.verbs.values[id] as string],
    [rC, (id) => resourceFilterKey(c.resources.values[id] as ResourceKey)],
    [nC, (id) => c.namespaces.values[id] as string],
    [kC, (id) => String(id)],
  ];
  const facets = Object.fromEntries(
    FACETS.map((f, n) => {
      const [counts, keyOf] = counted[n] as [Int32Array, (id: number) => string];
      return [f, topOf(counts, keyOf, top)];
    }),
  ) as Record<Facet, FacetValue[]>;
  return {
    total,
    histogram: { fromUs: origin, toUs: origin + nBuckets * bucketUs, bucketUs, counts: Array.from(hist) },
    facets,
  };
}

/**
 * The log indexes of the newest `limit` matching requests, newest first (time, then index, both
 * descending: the order of QueryIndex.search), strictly after `cursor`; with the next cursor
 * when more match. One pass from the newest row, keeping a sorted window of `limit + 1`.
 */
export function pickNewest(
  c: Columns,
  filter: EventFilter,
  opts: MatchOptions & { limit: number; cursor?: Cursor },
): { idxs: number[]; next?: Cursor } {
  const m = compile(c, filter, opts);
  const ids = new Int32Array(FACETS.length);
  const k = opts.limit + 1;
  const times: number[] = [];
  const rows: number[] = [];
  const cursor = opts.cursor;
  for (let i = m.stop - 1; i >= 0; i--) {
    if ((i & (TIME_BLOCK - 1)) === TIME_BLOCK - 1 || i === m.stop - 1) {
      // At the newest row of a block: skip the block when none of its rows can be picked.
      const b = Math.floor(i / TIME_BLOCK);
      const min = c.blockMin[b] as number;
      const max = c.blockMax[b] as number;
      if (
        blockTime(c, b, m.lower, m.upper) === "none" ||
        (cursor !== undefined && min > cursor.timeUs) ||
        (rows.length === k && max < (times[k - 1] as number))
      ) {
        i = b * TIME_BLOCK;
        continue;
      }
    }
    const t = c.time[i] as number;
    const idx = c.base + i;
    if (cursor !== undefined && (t > cursor.timeUs || (t === cursor.timeUs && idx >= cursor.idx))) continue;
    // Not better than the worst kept: skip before testing the filter.
    if (rows.length === k && !newer(t, idx, times[k - 1] as number, rows[k - 1] as number)) continue;
    if (!restMatches(m, i)) continue;
    facetIds(c, i, ids);
    let ok = true;
    for (let f = 0; f < FACETS.length && ok; f++) {
      const fm = m.facetMasks[f] as Uint8Array | null;
      if (fm !== null && !hit(fm, ids[f] as number)) ok = false;
    }
    if (!ok) continue;
    let at = rows.length;
    while (at > 0 && newer(t, idx, times[at - 1] as number, rows[at - 1] as number)) at--;
    times.splice(at, 0, t);
    rows.splice(at, 0, idx);
    if (rows.length > k) {
      times.pop();
      rows.pop();
    }
  }
  if (rows.length < k) return { idxs: rows };
  rows.pop();
  times.pop();
  return {
    idxs: rows,
    next: { timeUs: times[times.length - 1] as number, idx: rows[rows.length - 1] as number },
  };
}

function newer(t: number, idx: number, t2: number, idx2: number): boolean {
  return t > t2 || (t === t2 && idx > idx2);
}

function hit(m: Uint8Array, id: number): boolean {
  return id >= 0 && m[id] === 1;
}
