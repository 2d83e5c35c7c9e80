// One pass over the in-memory columns gives what the UI's timeline needs for a filter: the
// number of matching requests, a histogram over time and the top values of each facet. Rows
// match exactly as compileWhere's SQL matches them (query.ts), so the counts agree with the
// list the same filter returns; stats.test.ts checks that against SQLite.
//
// Facet counts are disjunctive: a facet is counted under every condition except its own, so a
// selected user's facet still shows the other users one could add to the selection.
import type { Cursor, EventFilter } from "../query.js";
import type { Columns, Dictionary, ResourceKey } from "./columns.js";

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

function topOf(counts: Int32Array, none: number, keyOf: (id: number) => string, top: number): FacetValue[] {
  const out: FacetValue[] = [];
  for (let id = 0; id < counts.length; id++) {
    const c = counts[id] as number;
    if (c > 0) out.push({ key: keyOf(id), count: c });
  }
  if (none > 0) out.push({ key: null, count: none });
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

/** Counts, histogram and facets of the requests matching `filter` among the rows held. */
export function aggregate(c: Columns, filter: EventFilter, opts: AggregateOptions): StatsAnswer {
  const win = window(c, filter, opts.nowUs);
  const bucketUs = bucketWidth(win.to - win.from + 1, opts.buckets);
  const origin = Math.floor(win.from / bucketUs) * bucketUs;
  const nBuckets = Math.max(1, Math.floor((win.to - origin) / bucketUs) + 1);
  const hist = new Float64Array(nBuckets);
  const m = compile(c, filter, opts);
  const counts = [
    new Int32Array(c.users.size),
    new Int32Array(c.verbs.size),
    new Int32Array(c.resources.size),
    new Int32Array(c.namespaces.size),
    new Int32Array(1000),
  ];
  const none = new Int32Array(FACETS.length);
  const ids = new Int32Array(FACETS.length);
  let total = 0;

  for (let i = 0; i < m.stop; i++) {
    if (!restMatches(m, i)) continue;
    facetIds(c, i, ids);
    // A row failing two facet conditions counts nowhere; failing one, only in that facet.
    let fails = 0;
    let failed = -1;
    for (let f = 0; f < FACETS.length && fails < 2; f++) {
      const fm = m.facetMasks[f] as Uint8Array | null;
      if (fm !== null && !hit(fm, ids[f] as number)) {
        fails++;
        failed = f;
      }
    }
    if (fails > 1) continue;
    if (fails === 0) {
      total++;
      const t = c.time[i] as number;
      if (t >= origin) {
        const b = Math.floor((t - origin) / bucketUs);
        if (b < nBuckets) hist[b] = (hist[b] as number) + 1;
      }
      for (let f = 0; f < FACETS.length; f++) bump(counts[f] as Int32Array, none, f, ids[f] as number);
    } else bump(counts[failed] as Int32Array, none, failed, ids[failed] as number);
  }

  const top = opts.top;
  const keys: ((id: number) => string)[] = [
    (id) => c.users.values[id] as string,
    (id) => c.verbs.values[id] as string,
    (id) => resourceFilterKey(c.resources.values[id] as ResourceKey),
    (id) => c.namespaces.values[id] as string,
    (id) => String(id),
  ];
  const facets = Object.fromEntries(
    FACETS.map((f, n) => [
      f,
      topOf(counts[n] as Int32Array, none[n] as number, keys[n] as (id: number) => string, top),
    ]),
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

/** Counts one more row for a facet value; id -1 (the field is absent) counts in `none`. */
function bump(counts: Int32Array, none: Int32Array, facet: number, id: number): void {
  if (id < 0) none[facet] = (none[facet] as number) + 1;
  else counts[id] = (counts[id] as number) + 1;
}

function hit(m: Uint8Array, id: number): boolean {
  return id >= 0 && m[id] === 1;
}
