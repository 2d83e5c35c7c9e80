// The index's rows held in memory as columns of small integers, one slot per log index, so the
// UI's histogram and facet counts are one pass over typed arrays instead of a GROUP BY per
// dimension over millions of SQLite rows. Strings are dictionary-coded; the store is derived
// from index.db and rebuilt from it at will.

/** A row as the stats source reads it from index.db (only what filters and facets need). */
export interface StatsRow {
  idx: number;
  timeUs: number;
  user: string | null;
  groupSet: number | null;
  verb: string | null;
  resource: string | null;
  apiGroup: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  code: number | null;
  sourceIP: string | null;
  decision: string | null;
  /** STAGE_RANK of the stage; null for entries that are not audit events. */
  stageRank: number | null;
  final: boolean;
}

/** The resource triple a resource id stands for, as `--resource` matches it. */
export interface ResourceKey {
  resource: string;
  apiGroup: string | null;
  subresource: string | null;
}

/** Strings ↔ dense ids; -1 stands for null. */
export class Dictionary<T = string> {
  private readonly ids = new Map<string, number>();
  readonly values: T[] = [];

  constructor(private readonly keyOf: (value: T) => string) {}

  id(value: T | null): number {
    if (value === null) return -1;
    const key = this.keyOf(value);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(key, id);
    }
    return id;
  }

  /** The id of a value already seen, or undefined (a filter on an unseen value matches nothing). */
  find(value: T): number | undefined {
    return this.ids.get(this.keyOf(value));
  }

  get size(): number {
    return this.values.length;
  }
}

const text = (s: string): string => s;
const resourceKey = (r: ResourceKey): string =>
  `${r.resource}\u0000${r.apiGroup ?? "\u0001"}\u0000${r.subresource ?? "\u0001"}`;

/** Rows per time block: scans skip blocks wholly outside a filter's time window (log order is
 * nearly time order, so a block spans a short time). */
export const TIME_BLOCK = 1024;
const TIME_BLOCK_BITS = 10;

/** Bytes held per row, for the memory bound in the docs: 8 (time) + 8 × 4 + 2 + 1 + 1. */
export const BYTES_PER_ROW = 44;
const INITIAL_CAPACITY = 1 << 16;

export class Columns {
  /** Log index of slot 0 (older slots are dropped when the store is full). */
  base = 0;
  length = 0;
  /** Latest time of any dropped row: windows reaching before it are not fully covered. */
  droppedMaxTimeUs = -Infinity;
  minTimeUs = Infinity;
  maxTimeUs = -Infinity;

  time = new Float64Array(INITIAL_CAPACITY);
  user = new Int32Array(INITIAL_CAPACITY);
  groupSet = new Int32Array(INITIAL_CAPACITY);
  verb = new Int32Array(INITIAL_CAPACITY);
  resource = new Int32Array(INITIAL_CAPACITY);
  namespace = new Int32Array(INITIAL_CAPACITY);
  name = new Int32Array(INITIAL_CAPACITY);
  source = new Int32Array(INITIAL_CAPACITY);
  decision = new Int32Array(INITIAL_CAPACITY);
  code = new Int16Array(INITIAL_CAPACITY);
  stage = new Int8Array(INITIAL_CAPACITY);
  final = new Uint8Array(INITIAL_CAPACITY);
  /** Earliest and latest time of each TIME_BLOCK rows. */
  blockMin: number[] = [];
  blockMax: number[] = [];

  users = new Dictionary<string>(text);
  verbs = new Dictionary<string>(text);
  resources = new Dictionary<ResourceKey>(resourceKey);
  namespaces = new Dictionary<string>(text);
  names = new Dictionary<string>(text);
  sources = new Dictionary<string>(text);
  decisions = new Dictionary<string>(text);

  /** At most `maxRows` rows are kept; when full, the oldest half is dropped. */
  constructor(readonly maxRows: number) {}

  /** Log index one past the last row held. */
  get end(): number {
    return this.base + this.length;
  }

  /** Appends the row of log index `end` (rows arrive in index order, without gaps). */
  push(r: StatsRow): void {
    if (r.idx !== this.end) throw new RangeError(`stats rows: expected entry ${this.end}, got ${r.idx}`);
    if (this.length === this.maxRows) this.dropOldestHalf();
    if (this.length === this.time.length) this.grow();
    const i = this.length++;
    this.time[i] = r.timeUs;
    this.noteBlockTime(i, r.timeUs);
    if (r.stageRank !== null && r.timeUs > 0) {
      if (r.timeUs < this.minTimeUs) this.minTimeUs = r.timeUs;
      if (r.timeUs > this.maxTimeUs) this.maxTimeUs = r.timeUs;
    }
    this.user[i] = this.users.id(r.user);
    this.groupSet[i] = r.groupSet ?? -1;
    this.verb[i] = this.verbs.id(r.verb);
    this.resource[i] =
      r.resource === null
        ? -1
        : this.resources.id({ resource: r.resource, apiGroup: r.apiGroup, subresource: r.subresource });
    this.namespace[i] = this.namespaces.id(r.namespace);
    this.name[i] = this.names.id(r.name);
    this.source[i] = this.sources.id(r.sourceIP);
    this.decision[i] = this.decisions.id(r.decision);
    // HTTP codes are three digits; anything else cannot match a code filter, like a missing one.
    this.code[i] = r.code !== null && r.code >= 100 && r.code <= 999 ? r.code : -1;
    this.stage[i] = r.stageRank ?? -1;
    this.final[i] = r.final ? 1 : 0;
  }

  private noteBlockTime(i: number, t: number): void {
    const b = i >> TIME_BLOCK_BITS;
    if ((i & (TIME_BLOCK - 1)) === 0) {
      this.blockMin[b] = t;
      this.blockMax[b] = t;
    } else {
      if (t < (this.blockMin[b] as number)) this.blockMin[b] = t;
      if (t > (this.blockMax[b] as number)) this.blockMax[b] = t;
    }
  }

  /** Marks the row of log index `idx` as superseded by a later stage of its request. */
  demote(idx: number): void {
    const i = idx - this.base;
    if (i >= 0 && i < this.length) this.final[i] = 0;
  }

  /** Counts the row of `idx` nowhere from now on (retention deleted it), as an erased entry's. */
  forget(idx: number): void {
    const i = idx - this.base;
    if (i >= 0 && i < this.length) {
      this.stage[i] = -1;
      this.final[i] = 0;
      // Its names go too, once the dictionaries are re-coded (forgetUnusedNames).
      for (const a of [
        this.user,
        this.verb,
        this.resource,
        this.namespace,
        this.name,
        this.source,
        this.decision,
      ])
        a[i] = -1;
    }
  }

  /** Re-codes the dictionaries over the rows held: names only forgotten rows had are dropped. */
  forgetUnusedNames(): void {
    this.recodeAll(this.length);
  }

  private grow(): void {
    const capacity = Math.min(this.maxRows, this.time.length * 2);
    const widen = <A extends Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array>(
      a: A,
      make: (n: number) => A,
    ): A => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.time = widen(this.time, (n) => new Float64Array(n));
    this.user = widen(this.user, (n) => new Int32Array(n));
    this.groupSet = widen(this.groupSet, (n) => new Int32Array(n));
    this.verb = widen(this.verb, (n) => new Int32Array(n));
    this.resource = widen(this.resource, (n) => new Int32Array(n));
    this.namespace = widen(this.namespace, (n) => new Int32Array(n));
    this.name = widen(this.name, (n) => new Int32Array(n));
    this.source = widen(this.source, (n) => new Int32Array(n));
    this.decision = widen(this.decision, (n) => new Int32Array(n));
    this.code = widen(this.code, (n) => new Int16Array(n));
    this.stage = widen(this.stage, (n) => new Int8Array(n));
    this.final = widen(this.final, (n) => new Uint8Array(n));
  }

  private recodeAll(n: number): void {
    this.users = recode(this.users, this.user, n, text);
    this.verbs = recode(this.verbs, this.verb, n, text);
    this.resources = recode(this.resources, this.resource, n, resourceKey);
    this.namespaces = recode(this.namespaces, this.namespace, n, text);
    this.names = recode(this.names, this.name, n, text);
    this.sources = recode(this.sources, this.source, n, text);
    this.decisions = recode(this.decisions, this.decision, n, text);
  }

  /**
   * Drops the oldest half of the rows and re-codes the dictionaries over what is left, so
   * neither the rows nor the strings of long-gone objects grow without bound.
   */
  private dropOldestHalf(): void {
    const drop = Math.floor(this.length / 2);
    for (let i = 0; i < drop; i++) {
      if (this.stage[i] !== -1 && (this.time[i] as number) > this.droppedMaxTimeUs)
        this.droppedMaxTimeUs = this.time[i] as number;
    }
    const keep = this.length - drop;
    for (const a of [this.time, this.user, this.groupSet, this.verb, this.resource, this.namespace]) {
      a.copyWithin(0, drop, this.length);
    }
    for (const a of [this.name, this.source, this.decision, this.code, this.stage, this.final]) {
      a.copyWithin(0, drop, this.length);
    }
    this.base += drop;
    this.length = keep;
    this.blockMin = [];
    this.blockMax = [];
    for (let i = 0; i < keep; i++) this.noteBlockTime(i, this.time[i] as number);
    this.recodeAll(keep);
    this.minTimeUs = Infinity;
    for (let i = 0; i < keep; i++) {
      if (this.stage[i] !== -1 && (this.time[i] as number) > 0 && (this.time[i] as number) < this.minTimeUs)
        this.minTimeUs = this.time[i] as number;
    }
  }
}

/** A new dictionary of the values still used by the first `n` ids of `column`, rewritten in place. */
function recode<T>(
  old: Dictionary<T>,
  column: Int32Array,
  n: number,
  keyOf: (v: T) => string,
): Dictionary<T> {
  const fresh = new Dictionary<T>(keyOf);
  const map = new Int32Array(old.size).fill(-2);
  for (let i = 0; i < n; i++) {
    const id = column[i] as number;
    if (id < 0) continue;
    let to = map[id] as number;
    if (to === -2) {
      to = fresh.id(old.values[id] as T);
      map[id] = to;
    }
    column[i] = to;
  }
  return fresh;
}
