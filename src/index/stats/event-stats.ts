// Keeps the in-memory columns in step with DATA/index.db and answers stats queries from them.
// Loading runs in batches that yield to the event loop; until the first full load is done,
// queries are refused as "loading" (the route says 503 and when to retry) rather than
// answered from a part of the log.
import { setImmediate } from "node:timers/promises";
import type { DroppedRows } from "../db.js";
import { IndexError } from "../errors.js";
import type { Cursor, EventFilter } from "../query.js";
import { aggregate, lowerBound, pickNewest, type MatchOptions, type StatsAnswer } from "./aggregate.js";
import { Columns, type StatsRow } from "./columns.js";
import type { StatsSource } from "./source.js";

export const DEFAULT_STATS_ROWS = 4_000_000;
// Rows read per turn of the event loop: a batch (rows, their strings, superseded rows) holds
// webhook answers back while it runs.
const LOAD_BATCH = 4096;

export class StatsLoadingError extends IndexError {
  constructor(
    readonly loaded: number,
    readonly total: number,
  ) {
    super("loading", `statistics are still loading from the index (${loaded} of ${total} entries)`);
  }
}

export interface StatsQueryOptions {
  nowUs: number;
  buckets: number;
  top: number;
}

export interface CoveredStats extends StatsAnswer {
  /** Entries of the log the counts cover: [fromIndex, toIndex). */
  fromIndex: number;
  toIndex: number;
  /**
   * False when the window reaches back before the oldest request held in memory (the store is
   * bounded): the counts then cover only requests since `coveredSinceUs`.
   */
  complete: boolean;
  coveredSinceUs?: number;
}

/** The place of an entry whose row retention deleted: what an erased entry's row holds. */
function removedRow(idx: number): StatsRow {
  return {
    idx,
    timeUs: 0,
    user: null,
    groupSet: null,
    verb: null,
    resource: null,
    apiGroup: null,
    subresource: null,
    namespace: null,
    name: null,
    code: null,
    sourceIP: null,
    decision: null,
    stageRank: null,
    final: false,
  };
}

export class EventStats {
  private columns: Columns;
  private generation: string | undefined;
  /** The index's strings epoch the dictionaries were last re-coded at (see forget-strings.ts). */
  private stringsEpoch = 0;
  /** The index position when loading began: rows indexed after it may supersede rows read before. */
  private firstPosition: number | undefined;
  private ready = false;
  /** The rows of the columns below this were forgotten (a pruned head, see forget). */
  private forgottenBelow = 0;
  private loading: Promise<void> | undefined;
  private target = 0;

  constructor(
    private readonly source: StatsSource,
    readonly maxRows: number = DEFAULT_STATS_ROWS,
  ) {
    this.columns = new Columns(maxRows);
  }

  /** Brings the columns up to the index's position (one load at a time; callers share it). */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Rows held, and how many the index has. */
  progress(): { loaded: number; total: number; ready: boolean } {
    return { loaded: this.columns.end, total: this.target, ready: this.ready };
  }

  private async load(): Promise<void> {
    for (;;) {
      const meta = this.source.meta();
      if (meta === undefined) return;
      if (meta.generation !== this.generation || meta.position < this.columns.end) {
        // The index was rebuilt (`kubetrail reindex`, a damaged file): start over from it.
        this.columns = new Columns(this.maxRows);
        this.forgottenBelow = 0;
        this.generation = meta.generation;
        this.firstPosition = undefined;
        this.ready = false;
        this.stringsEpoch = meta.stringsEpoch;
      }
      // Retention blanked the names no row of the index holds: the rows it told of (forget)
      // hold none of theirs any more, so re-coding drops them from memory too.
      if (meta.stringsEpoch !== this.stringsEpoch) {
        this.columns.forgetUnusedNames();
        this.stringsEpoch = meta.stringsEpoch;
      }
      this.target = meta.position;
      const from = this.columns.end;
      if (from >= meta.position) {
        this.ready = true;
        return;
      }
      this.firstPosition ??= meta.position;
      const to = Math.min(meta.position, from + LOAD_BATCH);
      const rows = this.source.rows(from, to);
      // Retention deletes the rows of what it removes: the pruned head is skipped, and an entry
      // thinned from a kept bundle holds its place as an erased one does (it counts nowhere).
      if (this.columns.length === 0) this.columns.base = rows[0]?.idx ?? to;
      for (const row of rows) {
        while (this.columns.end < row.idx) this.columns.push(removedRow(this.columns.end));
        this.columns.push(row);
      }
      while (this.columns.end < to) this.columns.push(removedRow(this.columns.end));
      if (to > this.firstPosition) {
        for (const idx of this.source.superseded(Math.max(from, this.firstPosition), to, from))
          this.columns.demote(idx);
      }
      await setImmediate();
    }
  }

  /**
   * Rows retention deleted from the index (the indexer says which, as it deletes them): those
   * loaded count nowhere from now on; later loads find them gone.
   */
  forget(rows: DroppedRows): void {
    const c = this.columns;
    if ("indexes" in rows) {
      for (const idx of rows.indexes) c.forget(idx);
      return;
    }
    // A pruned head comes in steps from its start: each goes on from where the last stopped.
    const to = Math.min(rows.before, c.end);
    for (let idx = Math.max(c.base, this.forgottenBelow); idx < to; idx++) c.forget(idx);
    this.forgottenBelow = Math.max(this.forgottenBelow, to);
  }

  /**
   * Histogram, total and facets for `filter` over the rows loaded. Throws StatsLoadingError
   * until the first load has finished.
   */
  query(filter: EventFilter, opts: StatsQueryOptions): CoveredStats {
    if (!this.ready) {
      void this.refresh().catch(() => undefined);
      throw new StatsLoadingError(this.columns.end, this.target);
    }
    const c = this.columns;
    const answer = aggregate(c, filter, { ...opts, ...this.resolved(filter) });
    const complete = this.covers(filter, opts.nowUs);
    return {
      ...answer,
      fromIndex: c.base,
      toIndex: filter.logSize === undefined ? c.end : Math.min(c.end, filter.logSize),
      complete,
      ...(complete ? {} : { coveredSinceUs: c.droppedMaxTimeUs }),
    };
  }

  /**
   * A page of the requests matching `filter`, newest first, as QueryIndex.search would give it;
   * undefined when the columns cannot answer exactly (still loading, oldest rows dropped, or an
   * ascending order), and the caller asks SQLite instead.
   */
  page(filter: EventFilter, nowUs: number): { idxs: number[]; next?: Cursor } | undefined {
    if (!this.ready || filter.asc || !this.covers(filter, nowUs)) return undefined;
    return pickNewest(this.columns, filter, {
      nowUs,
      limit: filter.limit,
      ...(filter.cursor === undefined ? {} : { cursor: filter.cursor }),
      ...this.resolved(filter),
    });
  }

  /** What matching needs from index.db beyond the columns: group sets and audit IDs. */
  private resolved(filter: EventFilter): Omit<MatchOptions, "nowUs"> {
    return {
      ...(filter.groups.length > 0 ? { groupSets: this.source.groupSets(filter.groups) } : {}),
      ...(filter.auditIDs.length > 0 ? { auditIdxs: this.source.auditIdxs(filter.auditIDs) } : {}),
    };
  }

  /** True when no dropped row can fall in the filter's window. */
  private covers(filter: EventFilter, nowUs: number): boolean {
    return this.columns.base === 0 || lowerBound(filter, nowUs) > this.columns.droppedMaxTimeUs;
  }

  close(): void {
    this.source.close();
  }
}
