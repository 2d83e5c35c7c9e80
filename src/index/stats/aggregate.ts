// One pass over the in-memory columns gives what the UI's timeline needs for a filter: the
// number of matching requests, a histogram over time and the top values of each facet. Rows
// match exactly as compileWhere's SQL matches them (query.ts), so the counts agree with the
// list the same filter returns; stats.test.ts checks that against SQLite.
//
// Facet counts are disjunctive: a facet is counted under every condition except its own, so a
// selected user's facet still shows the other users one could add to the selection.
import type { EventFilter } from "../query.js";
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

export interface AggregateOptions {
  nowUs: number;
  /** Largest number of histogram bars. */
  buckets: number;
  /** Values per facet. */
  top: number;
  /** The group_sets ids holding any of filter.groups (from index.db); required when it has groups. */
  groupSets?: ReadonlySet<number>;
  /** The log indexes of filter.auditIDs' entries (from index.db); required when it has audit IDs. */
  auditIdxs?: ReadonlySet<number>;
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

/** The time window a histogram covers: the filter's bounds, else the rows' own. */
function window(
  c: Columns,
  filter: EventFilter,
  nowUs: number,
): { lower: number; upper: number; from: number; to: number } {
  const lower = Math.max(filter.sinceUs === undefined ? 0 : nowUs - filter.sinceUs, filter.fromUs ?? 0);
  const upper = filter.toUs ?? Infinity;
  const from = lower > 0 ? lower : Number.isFinite(c.minTimeUs) ? c.minTimeUs : nowUs;
  // Open-ended windows reach the newest row (clocks skew: it may be after now), and now for `since`.
  const newest = Number.isFinite(c.maxTimeUs) ? c.maxTimeUs : from;
  const to = Number.isFinite(upper) ? upper : Math.max(newest, filter.sinceUs !== undefined ? nowUs : from);
  return { lower, upper, from, to: Math.max(to, from) };
}

/** Counts, histogram and facets of the requests matching `filter` among the rows held. */
export function aggregate(c: Columns, filter: EventFilter, opts: AggregateOptions): StatsAnswer {
  const win = window(c, filter, opts.nowUs);
  const bucketUs = bucketWidth(win.to - win.from + 1, opts.buckets);
  const origin = Math.floor(win.from / bucketUs) * bucketUs;
  const nBuckets = Math.max(1, Math.floor((win.to - origin) / bucketUs) + 1);
  const hist = new Float64Array(nBuckets);

  const userMask = mask(c.users, filter.users);
  const verbMask = mask(c.verbs, filter.verbs);
  const resMask = resourceMask(c.resources, filter);
  const nsMask = mask(c.namespaces, filter.namespaces);
  const cMask = codeMask(filter);
  const nameMask = mask(c.names, filter.names);
  const srcMask = mask(c.sources, filter.sourceIPs);
  const decMask = mask(c.decisions, filter.decisions);
  const groupMask = setMask(opts.groupSets, filter.groups.length > 0);
  const stageMask = filter.stages.length === 0 ? null : new Uint8Array(4);
  for (const s of filter.stages) (stageMask as Uint8Array)[STAGE_RANKS[s] as number] = 1;
  const auditIdxs = filter.auditIDs.length > 0 ? (opts.auditIdxs ?? new Set<number>()) : null;

  const userCounts = new Int32Array(c.users.size);
  const verbCounts = new Int32Array(c.verbs.size);
  const resCounts = new Int32Array(c.resources.size);
  const nsCounts = new Int32Array(c.namespaces.size);
  const codeCounts = new Int32Array(1000);
  const none = new Int32Array(FACETS.length);
  let total = 0;

  const { time, user, verb, resource, namespace, code, name, source, decision, groupSet, stage, final } = c;
  const { lower, upper } = win;
  const stop = filter.logSize === undefined ? c.length : Math.min(c.length, filter.logSize - c.base);
  for (let i = 0; i < stop; i++) {
    if (stageMask === null) {
      if (final[i] !== 1) continue;
    } else {
      const s = stage[i] as number;
      if (s < 0 || stageMask[s] === 0) continue;
    }
    const t = time[i] as number;
    if ((lower > 0 && t < lower) || t > upper) continue;
    if (nameMask !== null && !hit(nameMask, name[i] as number)) continue;
    if (srcMask !== null && !hit(srcMask, source[i] as number)) continue;
    if (decMask !== null && !hit(decMask, decision[i] as number)) continue;
    if (groupMask !== null && !hit(groupMask, groupSet[i] as number)) continue;
    if (auditIdxs !== null && !auditIdxs.has(c.base + i)) continue;
    const u = user[i] as number;
    const v = verb[i] as number;
    const r = resource[i] as number;
    const n = namespace[i] as number;
    const k = code[i] as number;
    let fails = 0;
    let failed = -1;
    if (userMask !== null && !hit(userMask, u)) {
      fails++;
      failed = 0;
    }
    if (verbMask !== null && !hit(verbMask, v)) {
      fails++;
      failed = 1;
    }
    if (fails > 1) continue;
    if (resMask !== null && !hit(resMask, r)) {
      fails++;
      failed = 2;
    }
    if (fails > 1) continue;
    if (nsMask !== null && !hit(nsMask, n)) {
      fails++;
      failed = 3;
    }
    if (fails > 1) continue;
    if (cMask !== null && !hit(cMask, k)) {
      fails++;
      failed = 4;
    }
    if (fails > 1) continue;
    if (fails === 0) {
      total++;
      if (t >= origin) {
        const b = Math.floor((t - origin) / bucketUs);
        if (b < nBuckets) hist[b] = (hist[b] as number) + 1;
      }
    }
    if (fails === 0 || failed === 0) bump(userCounts, none, 0, u);
    if (fails === 0 || failed === 1) bump(verbCounts, none, 1, v);
    if (fails === 0 || failed === 2) bump(resCounts, none, 2, r);
    if (fails === 0 || failed === 3) bump(nsCounts, none, 3, n);
    if (fails === 0 || failed === 4) bump(codeCounts, none, 4, k);
  }

  const top = opts.top;
  return {
    total,
    histogram: { fromUs: origin, toUs: origin + nBuckets * bucketUs, bucketUs, counts: Array.from(hist) },
    facets: {
      users: topOf(userCounts, none[0] as number, (id) => c.users.values[id] as string, top),
      verbs: topOf(verbCounts, none[1] as number, (id) => c.verbs.values[id] as string, top),
      resources: topOf(
        resCounts,
        none[2] as number,
        (id) => resourceFilterKey(c.resources.values[id] as ResourceKey),
        top,
      ),
      namespaces: topOf(nsCounts, none[3] as number, (id) => c.namespaces.values[id] as string, top),
      codes: topOf(codeCounts, none[4] as number, (id) => String(id), top),
    },
  };
}

/** Counts one more row for a facet value; id -1 (the field is absent) counts in `none`. */
function bump(counts: Int32Array, none: Int32Array, facet: number, id: number): void {
  if (id < 0) none[facet] = (none[facet] as number) + 1;
  else counts[id] = (counts[id] as number) + 1;
}

function hit(m: Uint8Array, id: number): boolean {
  return id >= 0 && m[id] === 1;
}
