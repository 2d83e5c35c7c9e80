// Feeds the live detector the integrated log in order, taking each entry as kubetrail parsed it
// when that object is still at hand — ingest's audit events (IngestPipeline.onStored), the
// detector's own alerts — instead of reading and parsing the stored bytes again. The log stays
// the source of truth: an index not held here (another writer's entry such as `kubetrail
// append`, catch-up after a restart, an entry let go because the detector lagged and the buffer
// was full) is read from the log.
import { Counter, type Registry } from "prom-client";
import type { EventDigest } from "../audit/event-digest.js";
import type { AuditEvent } from "../audit/types.js";
import type { IngestPipeline } from "../ingest/pipeline.js";
import { collect, followLogWith, type Follower } from "../store/follow.js";
import type { AuditLog, LogReader } from "../store/types.js";
import type { Detector } from "./detector.js";
import type { Alert, DetectEntry } from "./types.js";

/**
 * Entries wait about one integration interval (serve: 1 s) plus the detector's turn: at the
 * full ingest rate of one core (about 25k events/s on the bench machine) that is 25–40k
 * entries, and this leaves slack for a late checkpoint. Past either bound, entries are read
 * from the log instead, so memory stays flat however large the events.
 */
const DEFAULT_CAPACITY = { entries: 65_536, bytes: 64 * 1024 * 1024 };

/**
 * Entries by log index, parsed or as bytes (those ingest parsed in a worker), waiting for the
 * detector to reach them (between durable and integrated: about one integration interval at
 * full speed). Bounded by count and by the entries' stored size (a parsed event takes a few
 * times its JSON): once full, newer entries are not kept — the detector reads those from the log.
 */
export class StoredEntries {
  private readonly held = new Map<
    number,
    { entry: AuditEvent | Alert | Uint8Array; size: number; digest?: EventDigest }
  >();
  private bytes = 0;
  /** Indexes below this were delivered already; late arrivals for them are not kept. */
  private floor = 0;
  readonly stats = { fromMemory: 0, fromLog: 0, notKept: 0 };

  constructor(readonly capacity = DEFAULT_CAPACITY) {}

  /**
   * Keeps `entries[i]` (stored as `sizes[i]` bytes) as the entry at `firstIndex + i`. Fits
   * IngestPipeline.onStored and the detector's onAppended; both call it once the entries are
   * durable.
   */
  readonly add = (
    firstIndex: number,
    entries: readonly (AuditEvent | Alert | Uint8Array)[],
    sizes: readonly number[],
    digests?: readonly (EventDigest | undefined)[],
  ): void => {
    for (let i = 0; i < entries.length; i++) {
      const index = firstIndex + i;
      if (index < this.floor) continue;
      const size = sizes[i] ?? 0;
      if (this.held.size >= this.capacity.entries || this.bytes + size > this.capacity.bytes) {
        this.stats.notKept += entries.length - i;
        return;
      }
      const digest = digests?.[i];
      const entry = entries[i] as AuditEvent | Alert | Uint8Array;
      this.held.set(index, digest === undefined ? { entry, size } : { entry, size, digest });
      this.bytes += size;
    }
  };

  private forget(index: number): void {
    this.bytes -= this.held.get(index)?.size ?? 0;
    this.held.delete(index);
  }

  /** Number of entries held now (never above capacity). */
  get size(): number {
    return this.held.size;
  }

  /**
   * Entries start..end-1 in order: held ones as they are (and forgotten here), each run of the
   * others read from `log` in one go. Held runs cost no promise per entry.
   */
  async read(log: Pick<LogReader, "readEntries">, start: number, end: number): Promise<DetectEntry[]> {
    // Anything held below a first `start` was stored before the detector's start position and
    // would never be asked for. After that, ranges follow on from each other.
    if (start > this.floor) for (const i of [...this.held.keys()]) if (i < start) this.forget(i);
    this.floor = Math.max(this.floor, end);
    const out: DetectEntry[] = [];
    let index = start;
    while (index < end) {
      const held = this.held.get(index);
      if (held !== undefined) {
        this.forget(index);
        this.stats.fromMemory++;
        const { entry, digest } = held;
        if (!(entry instanceof Uint8Array)) out.push({ index, parsed: entry });
        else out.push(digest === undefined ? { index, data: entry } : { index, data: entry, digest });
        index++;
        continue;
      }
      let gapEnd = index + 1;
      while (gapEnd < end && !this.held.has(gapEnd)) gapEnd++;
      await collect<DetectEntry>(log.readEntries(index, gapEnd), out);
      this.stats.fromLog += gapEnd - index;
      index = gapEnd;
    }
    return out;
  }
}

export interface FeedOptions {
  log: Pick<AuditLog, "latestCheckpoint" | "onIntegrated" | "readEntries">;
  detector: Pick<Detector, "process">;
  /** Where to start: what detector.start() returned. */
  from: number;
  /** Ingest's hook (IngestPipeline.onStored); without it audit events are read from the log. */
  pipeline?: Pick<IngestPipeline, "onStored">;
  /** Where the entries wait; give the one the detector's onAppended fills. Default: a new one. */
  held?: StoredEntries;
  onError?(err: unknown): void;
}

export interface DetectorFeed extends Follower {
  held: StoredEntries;
}

/** Follows the integrated log into `detector.process`, preferring entries held parsed. */
export function feedDetector(opts: FeedOptions): DetectorFeed {
  const held = opts.held ?? new StoredEntries();
  const unsubscribe = opts.pipeline?.onStored(held.add);
  const follower = followLogWith(opts.log, (start, end) => held.read(opts.log, start, end), {
    from: opts.from,
    // Each batch with alerts costs an append and a position save (fsyncs); entries from memory
    // are cheap, so larger batches than followLog's default keep that per-batch cost small.
    batchSize: 4096,
    onEntries: (entries) => opts.detector.process(entries),
    onError: opts.onError,
  });
  return {
    ...follower,
    held,
    stop: async () => {
      unsubscribe?.();
      await follower.stop();
    },
  };
}

/**
 * Exports where the detector took its entries from, so an operator can see the buffer is too
 * small (many from the log, many not kept) before detection falls behind. Replaces the
 * counters of an earlier feed in the same registry.
 */
export function registerFeedMetrics(held: StoredEntries, registry: Registry): void {
  const names = ["kubetrail_detect_entries_total", "kubetrail_detect_entries_not_kept_total"];
  for (const name of names) registry.removeSingleMetric(name);
  // The counters mirror held.stats, which only grows: set to its totals on each scrape.
  new Counter({
    name: names[0]!,
    help: "Entries the detector evaluated, by source: memory (as ingest parsed them) or log (read and parsed again).",
    labelNames: ["source"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ source: "memory" }, held.stats.fromMemory);
      this.inc({ source: "log" }, held.stats.fromLog);
    },
  });
  new Counter({
    name: names[1]!,
    help: "Stored entries the detector's buffer had no room for (it read them from the log instead).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(held.stats.notKept);
    },
  });
}
