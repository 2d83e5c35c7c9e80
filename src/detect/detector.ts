// The live detector behind `kubetrail serve`: evaluates integrated entries in log order,
// appends each alert to the log, then hands it to the sinks in the background.
//
// Guarantees: an alert is durable in the log before the position moves past its trigger, and
// the position (DATA/detect.position) is saved after that, so a restart neither re-raises nor
// misses an alert. Windowed state is rebuilt from a bounded look-back before the saved position.
import type { Registry } from "prom-client";
import type { LogEntry, LogReader, LogWriter } from "../store/types.js";
import { alertMetrics, type AlertMetrics } from "./alert-metrics.js";
import { SinkDispatcher, type DeliveryOptions } from "./dispatch.js";
import { emptyStats, type EngineStats } from "./engine.js";
import { localEvaluator, type Evaluator } from "./evaluator.js";
import { loadPosition, readPosition, writePosition } from "./position.js";
import {
  DetectError,
  type Alert,
  type AlertSink,
  type DetectEntry,
  type RecordedAlert,
  type Rule,
} from "./types.js";

export interface DetectorOptions {
  /** Rules evaluated in this thread (what `serve` uses, see live.ts). Give either rules or an evaluator. */
  rules?: Rule[];
  /**
   * Starts the evaluator the rules run in instead (the bench's worker-thread evaluator); start()
   * rejects with its error, e.g. rules that do not load.
   */
  evaluator?: () => Promise<Evaluator>;
  sinks: AlertSink[];
  writer: LogWriter;
  /** Needed to rebuild windowed state on start; without it windows start empty. */
  reader?: Pick<LogReader, "readEntries">;
  /** e.g. DATA/detect.position; without it the detector starts at 0 and remembers nothing. */
  positionFile?: string;
  /**
   * Entries in the log now: a saved position beyond it is damage. With `reader`, a damaged
   * position file is rebuilt from the log (see position.ts) and `onRepair` told.
   */
  logSize?: () => number;
  onRepair?: (message: string) => void;
  /** Entries before the saved position replayed (without alerting) to refill windows. */
  lookbackEntries?: number;
  /** Repeats of one rule by one user on one object within this time go to the log but not the sinks. */
  dedupeWindowMs?: number;
  delivery?: DeliveryOptions;
  registry?: Registry;
  now?: () => number;
  /**
   * Told of each batch of alerts once it is durable: `alerts[i]` is the entry at `firstIndex + i`.
   * Lets the feed (feed.ts) hand the detector's own entries back to it without reading the log.
   */
  onAppended?: (firstIndex: number, alerts: readonly Alert[], sizes: readonly number[]) => void;
  /** Sink failures (already counted in metrics); messages never contain tokens or webhook paths. */
  onSinkError?: (sink: string, err: Error) => void;
}

export interface DetectorStats extends EngineStats {
  position: number;
  queued: Record<string, number>;
}

export interface Detector {
  /** Loads the saved position and replays the look-back; returns the index to follow the log from. */
  start(): Promise<number>;
  /**
   * Evaluates entries (in log order, as bytes or as ingest parsed them); resolves once their
   * alerts are in the log and queued for sinks.
   */
  process(entries: DetectEntry[]): Promise<void>;
  /** Resolves when every sink queue is empty; for tests and orderly shutdown. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): DetectorStats;
}

const encoder = new TextEncoder();

export function createDetector(opts: DetectorOptions): Detector {
  const now = opts.now ?? Date.now;
  const metrics: AlertMetrics = alertMetrics(opts.registry);
  if (!opts.rules === !opts.evaluator)
    throw new DetectError("config", "give the detector rules or an evaluator");
  let engine: Evaluator | undefined = opts.rules && localEvaluator(opts.rules);
  const dispatchers = opts.sinks.map(
    (s) => new SinkDispatcher(s, metrics, opts.delivery, now, (err) => opts.onSinkError?.(s.name, err)),
  );
  const dedupe = new RepeatFilter(opts.dedupeWindowMs ?? 60_000);
  let position = 0;
  let savedPosition = 0;
  let lastSave = 0;
  // process() calls are chained so entries are always evaluated in order, one batch at a time.
  let chain: Promise<void> = Promise.resolve();

  const save = async (force: boolean): Promise<void> => {
    if (!opts.positionFile || position === savedPosition) return;
    if (!force && now() - lastSave < 1000) return;
    await writePosition(opts.positionFile, position);
    savedPosition = position;
    lastSave = now();
  };

  // Alerts evaluated but not yet durable: if the append fails, the same batch is offered
  // again and these are appended then, instead of being lost to the engine's per-request dedupe.
  let pending: Alert[] = [];
  let evaluated = 0;

  const processBatch = async (entries: DetectEntry[]): Promise<void> => {
    if (!engine) throw new DetectError("config", "detector: start() must complete before process()");
    // Entries below `evaluated` were seen before a restart or a failed append.
    const fresh = entries.filter((e) => e.index >= evaluated);
    if (fresh.length > 0) {
      pending.push(...(await engine.evaluate(fresh)));
      evaluated = (fresh[fresh.length - 1] as DetectEntry).index + 1;
    }
    if (evaluated === position) return;
    const alerts = pending;
    let recorded: RecordedAlert[] = alerts;
    if (alerts.length > 0) {
      const encoded = alerts.map((a) => encoder.encode(JSON.stringify(a)));
      const { firstIndex } = await opts.writer.append(encoded);
      opts.onAppended?.(
        firstIndex,
        alerts,
        encoded.map((e) => e.length),
      );
      recorded = alerts.map((a, i) => ({ ...a, alertIndex: firstIndex + i }));
    }
    pending = [];
    position = evaluated;
    for (const alert of recorded) {
      metrics.raised.inc({ rule: alert.rule, severity: alert.severity });
      if (dedupe.isRepeat(alert, now())) {
        metrics.deduplicated.inc({ rule: alert.rule });
        continue;
      }
      for (const d of dispatchers) d.enqueue(alert);
    }
    await save(alerts.length > 0);
  };

  return {
    async start() {
      if (!engine && opts.evaluator) engine = await opts.evaluator();
      const evaluator = engine;
      if (!evaluator) throw new DetectError("config", "detector: no rules and no evaluator");
      if (opts.positionFile) {
        position = savedPosition =
          opts.reader && opts.logSize
            ? await loadPosition(opts.positionFile, opts.reader, opts.logSize(), opts.onRepair)
            : await readPosition(opts.positionFile);
      }
      evaluated = position;
      const lookback = opts.lookbackEntries ?? 10_000;
      if (opts.reader && position > 0 && lookback > 0) {
        let batch: LogEntry[] = [];
        for await (const entry of opts.reader.readEntries(Math.max(0, position - lookback), position)) {
          batch.push(entry);
          if (batch.length < 1024) continue;
          await evaluator.evaluate(batch); // alerts from here were raised before the restart
          batch = [];
        }
        await evaluator.evaluate(batch);
        await evaluator.resetStats();
      }
      return position;
    },
    process(entries) {
      const run = chain.then(() => processBatch(entries));
      chain = run.catch(() => {});
      return run;
    },
    async flush() {
      await chain;
      await Promise.all(dispatchers.map((d) => d.idle()));
    },
    async close() {
      await chain;
      await save(true);
      await Promise.all(dispatchers.map((d) => d.close()));
      await engine?.close();
    },
    stats() {
      return {
        ...(engine?.stats() ?? emptyStats()),
        position,
        queued: Object.fromEntries(dispatchers.map((d) => [d.sink.name, d.pending])),
      };
    },
  };
}

/** Remembers recently sent (rule, user, object) triples for a short time. */
class RepeatFilter {
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  isRepeat(alert: Alert, nowMs: number): boolean {
    if (this.windowMs <= 0) return false;
    const o = alert.object;
    const key = [alert.rule, alert.user, o.apiGroup, o.resource, o.subresource, o.namespace, o.name].join(
      "\u0000",
    );
    const last = this.seen.get(key);
    if (last !== undefined && nowMs - last < this.windowMs) return true;
    // Re-inserted so the map stays ordered oldest first and pruning stops at the first fresh key.
    this.seen.delete(key);
    this.seen.set(key, nowMs);
    for (const [k, t] of this.seen) {
      if (nowMs - t < this.windowMs && this.seen.size <= 10_000) break;
      this.seen.delete(k);
    }
    return false;
  }
}
