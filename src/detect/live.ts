// Live detection as `kubetrail serve` runs it: the rules evaluated in the ingest thread on the
// events ingest already parsed, following the integrated log in order. One wiring, shared by
// serve (src/server/detect-extension.ts) and bench/detect.ts, so the bench measures what ships.
import path from "node:path";
import type { Registry } from "prom-client";
import type { AuditLog } from "../store/types.js";
import { createDetector, type Detector } from "./detector.js";
import {
  feedDetector,
  registerFeedMetrics,
  StoredEntries,
  type DetectorFeed,
  type FeedOptions,
} from "./feed.js";
import { loadRules, type LoadRulesOptions } from "./load-rules.js";
import type { AlertSink } from "./types.js";

export interface LiveDetectionOptions {
  /** Where the detector keeps its position (Storage.stateDir). */
  stateDir: string;
  log: AuditLog;
  /** Ingest's hook for parsed events (IngestPipeline); without it every entry is read from the log. */
  pipeline?: FeedOptions["pipeline"];
  rules: LoadRulesOptions;
  sinks: AlertSink[];
  registry?: Registry;
  onSinkError?: (sink: string, err: Error) => void;
  /** A failed batch (e.g. the alert append) is retried; told here. */
  onError?: (err: unknown) => void;
  /** A damaged DATA/detect.position was rebuilt from the log; told what and where. */
  onRepair?: (message: string) => void;
}

export interface LiveDetection {
  detector: Detector;
  feed: DetectorFeed;
  /** The log index detection resumed from (DATA/detect.position). */
  from: number;
  /** Stops following, then saves the position and drains the sinks. */
  stop(): Promise<void>;
}

/**
 * Starts detection over `log` from the saved position. Rejects, without following anything,
 * if a rule does not load.
 */
export async function startLiveDetection(opts: LiveDetectionOptions): Promise<LiveDetection> {
  const held = new StoredEntries();
  if (opts.registry) registerFeedMetrics(held, opts.registry);
  const detector = createDetector({
    // In this thread rather than a worker: the events arrive parsed (import) or as bytes with
    // a digest from the receive worker that parsed them (the webhook), which spares parsing
    // the events no rule can match, and the rules take about 1 µs per event, while handing an
    // event to a worker would cost this thread more (a structured clone, or re-encoding it as
    // JSON). bench/detect.ts shows the rows side by side.
    rules: await loadRules(opts.rules),
    sinks: opts.sinks,
    writer: opts.log,
    reader: opts.log,
    positionFile: path.join(opts.stateDir, "detect.position"),
    logSize: () => opts.log.size(),
    onRepair: opts.onRepair,
    registry: opts.registry,
    onSinkError: opts.onSinkError,
    onAppended: held.add,
  });
  const from = await detector.start();
  const feed = feedDetector({
    log: opts.log,
    detector,
    from,
    pipeline: opts.pipeline,
    held,
    onError: opts.onError,
  });
  return {
    detector,
    feed,
    from,
    stop: async () => {
      await feed.stop();
      await detector.close();
    },
  };
}
