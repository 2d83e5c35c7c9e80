// The writing side of the dedupe store, on a thread of its own in `serve`: each flush of
// records becomes one sorted, immutable run file, and runs of about the same size are merged,
// FAN_IN at a time, in the background. A record is written once per merge tier — a handful of
// times over its life — and always sequentially, so the cost of a record does not grow with
// the store the way a B-tree's random page writes did (bench/dedupe-store.ts).
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { RECORD_BYTES } from "../record-table.js";
import { STORE_CORRUPT, StoreCorruptError } from "./corrupt.js";
import { compareHashes } from "./format.js";
import {
  emptyManifest,
  MANIFEST,
  readManifest,
  runName,
  writeManifest,
  type Manifest,
  type StoreIdentity,
} from "./manifest.js";
import { RunBuilder } from "./run-builder.js";
import { loadRun, RunScanner } from "./run-file.js";
import type { RunView } from "./run-view.js";
import { Cancelled, giveWay, SLICE_RECORDS } from "./slices.js";
import { StoreFilter } from "./store-filter.js";

/** Runs merged at once; also the size ratio between tiers. */
export const FAN_IN = 8;
/** Runs of up to this many records (the largest flush) are tier 0. */
export const TIER_BASE = 131_072;
/**
 * After a merge or filter build fails (a full disk), the next attempt waits this long: each
 * flush would otherwise start the same large job again, only to fail at the same point.
 */
export const RETRY_AFTER_MS = 60_000;

/**
 * What the writer tells its reader: the live runs whenever they change, the store-wide filter
 * whenever a new one is in use (see store-filter.ts), and background failures.
 */
export interface StoreEvents {
  runs(views: RunView[]): void;
  filter(words: SharedArrayBuffer): void;
  error(err: Error): void;
}

/** The size tier of a run: tier t holds runs of up to TIER_BASE · FAN_IN^t records. */
export function tierOf(records: number): number {
  let tier = 0;
  for (let cap = TIER_BASE; records > cap; cap *= FAN_IN) tier++;
  return tier;
}

/** The runs to merge next: the FAN_IN oldest of the lowest tier that has as many, if any. */
export function pickMerge(runs: readonly RunView[]): RunView[] | null {
  const byTier = new Map<number, RunView[]>();
  for (const r of runs) {
    const tier = tierOf(r.records);
    byTier.set(tier, [...(byTier.get(tier) ?? []), r]);
  }
  const full = [...byTier.entries()].filter(([, rs]) => rs.length >= FAN_IN).sort(([a], [b]) => a - b);
  return full.length === 0 ? null : full[0]![1].slice(0, FAN_IN);
}

export class RunStoreWriter {
  private runs: RunView[];
  /** Serialises changes to the run list and manifest (flushes and the end of merges). */
  private queue: Promise<unknown> = Promise.resolve();
  private merging: Promise<void> | null = null;
  private readonly filter = new StoreFilter();
  private filtering: Promise<void> | null = null;
  /** Merged away, still open for reading on the other side until it releases them. */
  private readonly obsolete = new Set<string>();
  private closing = false;
  /** When a failed merge or filter build may be tried again (Date.now() time). */
  private retryAt = 0;

  private constructor(
    private readonly dir: string,
    private readonly manifest: Manifest,
    runs: RunView[],
    private readonly events: StoreEvents,
  ) {
    this.runs = runs;
  }

  /**
   * Opens the store in `dir` (creating it), removing files the manifest does not name; a store
   * of another log or hash kind starts empty. Throws StoreCorruptError when a named run is
   * missing or damaged, or the manifest says a run was: the caller rebuilds from the log.
   */
  static async open(dir: string, identity: StoreIdentity, events: StoreEvents): Promise<RunStoreWriter> {
    mkdirSync(dir, { recursive: true });
    const found = readManifest(dir);
    if (found?.damaged !== undefined) throw new StoreCorruptError(MANIFEST, found.damaged);
    const reset = found === null || found.origin !== identity.origin || found.hash !== identity.hash;
    const manifest = reset ? emptyManifest(identity) : found;
    const live = new Set(manifest.runs.map((r) => r.name));
    for (const f of readdirSync(dir))
      if (f !== MANIFEST && !live.has(f)) rmSync(path.join(dir, f), { recursive: true, force: true });
    const runs = manifest.runs.map((r) => {
      const view = loadRun(dir, r.name);
      if (view.records !== r.records)
        throw new StoreCorruptError(r.name, `${view.records} records, the manifest says ${r.records}`);
      return view;
    });
    const writer = new RunStoreWriter(dir, manifest, runs, events);
    // Written only when it changed: an unchanged store opens without a write and two fsyncs.
    if (reset) await writer.save();
    events.runs(runs);
    writer.maybeMerge();
    writer.maybeBuildFilter();
    return writer;
  }

  /** Log prefix the live runs cover. */
  get covered(): number {
    return this.manifest.covered;
  }

  /**
   * Writes `rows` (RECORD_BYTES each, any order, repeats allowed) as a new run and records that
   * the log prefix `covered` is in the store. When it resolves, both are durable and the new
   * run list has been told to `events.runs`.
   */
  write(rows: Uint8Array, covered: number): Promise<void> {
    return this.exclusive(async () => {
      if (this.closing) throw new Error("dedupe store closed");
      const view =
        rows.length === 0 ? null : this.writeRun(Buffer.from(rows.buffer, rows.byteOffset, rows.length));
      await this.commit(view === null ? [] : [view], [], covered);
      this.maybeMerge();
      this.maybeBuildFilter();
    });
  }

  /** Resolves once no merge or filter build is due or running (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.merging !== null || this.filtering !== null) await (this.merging ?? this.filtering);
    await this.queue;
  }

  /** The other side has closed these merged-away runs: their files can go. */
  release(names: readonly string[]): void {
    for (const name of names) {
      if (!this.obsolete.delete(name)) continue;
      rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /** Stops merging (an unfinished merge is dropped), finishes writes under way, removes merged-away runs. */
  async close(): Promise<void> {
    this.closing = true;
    await this.merging;
    await this.filtering;
    await this.queue.catch(() => undefined);
    this.release([...this.obsolete]);
  }

  /** Sorts `rows` and writes them as a run. */
  private writeRun(rows: Buffer): RunView {
    const n = rows.length / RECORD_BYTES;
    const his = new Uint32Array(n);
    const los = new Uint32Array(n);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      his[i] = rows.readUInt32BE(i * RECORD_BYTES);
      los[i] = rows.readUInt32BE(i * RECORD_BYTES + 4);
      order[i] = i;
    }
    order.sort(
      (a, b) =>
        his[a]! - his[b]! ||
        los[a]! - los[b]! ||
        compareHashes(rows, a * RECORD_BYTES, rows, b * RECORD_BYTES),
    );
    const builder = new RunBuilder(this.dir, this.nextName(), n, this.filter.targets());
    try {
      for (const i of order) builder.add(rows, i * RECORD_BYTES);
      return builder.finish();
    } catch (err) {
      builder.abandon();
      throw err;
    }
  }

  /**
   * Replaces `removed` with `added` in the run list and saves the manifest; on failure the list
   * is as before and the new files are gone. Call within `exclusive`.
   */
  private async commit(added: RunView[], removed: RunView[], covered: number): Promise<void> {
    const before = { runs: this.runs, covered: this.manifest.covered };
    this.runs = [...this.runs.filter((r) => !removed.includes(r)), ...added];
    this.manifest.covered = Math.max(this.manifest.covered, covered);
    try {
      await this.save();
    } catch (err) {
      this.runs = before.runs;
      this.manifest.covered = before.covered;
      for (const r of added) rmSync(path.join(this.dir, r.name), { force: true });
      throw err;
    }
    for (const r of removed) this.obsolete.add(r.name);
    if (added.length > 0 || removed.length > 0) this.events.runs(this.runs);
  }

  private save(): Promise<void> {
    this.manifest.runs = this.runs.map((r) => ({ name: r.name, records: r.records }));
    return writeManifest(this.dir, this.manifest);
  }

  /** Numbers are never reused: an unlisted file of a failed attempt may still be there. */
  private nextName(): string {
    return runName(this.manifest.next++);
  }

  /** Starts the next merge when one is due and none is running. */
  private maybeMerge(): void {
    if (this.merging !== null || !this.mayStartJob()) return;
    const inputs = pickMerge(this.runs);
    if (inputs === null) return;
    this.merging = this.merge(inputs).then(
      () => {
        this.merging = null;
        this.maybeMerge();
      },
      (err: unknown) => {
        this.merging = null;
        return this.failed(err);
      },
    );
  }

  /** Starts building a store-wide filter when the store has none, or has outgrown it. */
  private maybeBuildFilter(): void {
    if (this.filtering !== null || !this.mayStartJob()) return;
    const records = this.runs.reduce((n, r) => n + r.records, 0);
    if (!this.filter.due(records)) return;
    const names = this.runs.map((r) => r.name);
    this.filtering = this.filter
      .build(this.dir, names, records, () => this.closing)
      .then(
        (words) => {
          this.filtering = null;
          this.events.filter(words.buffer as SharedArrayBuffer);
        },
        (err: unknown) => {
          this.filtering = null;
          return this.failed(err);
        },
      );
  }

  /** Merges `inputs` into one run (dropping repeats), a slice at a time, then swaps them. */
  private async merge(inputs: RunView[]): Promise<void> {
    const scanners: RunScanner[] = [];
    let builder: RunBuilder | null = null;
    let merged: RunView;
    try {
      for (const r of inputs) scanners.push(new RunScanner(this.dir, r.name));
      builder = new RunBuilder(
        this.dir,
        this.nextName(),
        inputs.reduce((n, r) => n + r.records, 0),
      );
      for (let done = 0; ;) {
        let best: RunScanner | null = null;
        for (const s of scanners) {
          if (!s.more) continue;
          if (
            best === null ||
            (s.hi - best.hi || s.lo - best.lo || compareHashes(s.buf, s.pos, best.buf, best.pos)) < 0
          )
            best = s;
        }
        if (best === null) break;
        builder.add(best.buf, best.pos);
        best.next();
        if (++done % SLICE_RECORDS === 0) await giveWay(() => this.closing);
      }
      merged = builder.finish();
    } catch (err) {
      builder?.abandon();
      throw err;
    } finally {
      for (const s of scanners) s.close();
    }
    await this.exclusive(() => this.commit([merged], inputs, 0));
  }

  /** Background jobs stop while closing, once the store is damaged, and for a while after a failure. */
  private mayStartJob(): boolean {
    return !this.closing && this.manifest.damaged === undefined && Date.now() >= this.retryAt;
  }

  /**
   * A merge or filter build that could not be finished leaves the store as it was, and the
   * next is tried after RETRY_AFTER_MS (at a write: a store nobody writes needs none). A damaged
   * run is marked in the manifest (the store is rebuilt from the log on the next open), and
   * both stop until then.
   */
  private async failed(err: unknown): Promise<void> {
    if (err instanceof Cancelled) return;
    this.retryAt = Date.now() + RETRY_AFTER_MS;
    if ((err as { code?: unknown }).code === STORE_CORRUPT) {
      this.manifest.damaged = (err as Error).message;
      await this.exclusive(() => this.save()).catch(() => undefined);
    }
    this.events.error(err instanceof Error ? err : new Error(String(err)));
  }

  /** Runs `fn` after every change queued before it; a failure does not stop later ones. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
