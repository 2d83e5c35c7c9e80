// Opens everything an ingest path needs over one storage: the log, the dedupe store
// (caught up with the log), the policy + redaction transform and the pipeline. Shared by
// `serve` and `import` so both store identical entries for identical input.
import { rmSync } from "node:fs";
import path from "node:path";
import { createIngestTransform } from "../audit/ingest-transform.js";
import { loadPolicyFile } from "../audit/policy/load.js";
import { loadRedactionRules } from "../audit/redact/rules.js";
import type { Cosign } from "../store/log-core.js";
import { readDetectorConfig } from "../secrets/index.js";
import type { Storage } from "../store/storage.js";
import type { AuditLog } from "../store/types.js";
import { Deduper, type CatchUpProgress } from "./dedupe.js";
import type { MemoryBudget } from "./memory-budget.js";
import { DEFAULT_PARSE_LIMITS } from "./normalize.js";
import { createPipeline, type IngestPipeline } from "./pipeline.js";
import { startReceiver, type Receiver } from "./receive.js";

export interface IngestSetup {
  /** Audit Policy YAML applied at ingest (--policy). */
  policyFile?: string;
  /** Extra redaction rules (--redaction-rules); the built-in rules always apply. */
  redactionRulesFile?: string;
  /** Extra credential detectors (--secret-detectors, docs/secrets.md); the built-in ones always apply. */
  secretDetectorsFile?: string;
  /** Most items in one webhook EventList (--max-items). */
  maxItems?: number;
  /** Most memory parsing one webhook body may take, as estimated (see parseCost). */
  maxParseBytes?: number;
  /** Memory shared by the webhook bodies being read and parsed (see MemoryBudget). */
  memoryBudget?: MemoryBudget;
  /** False turns redaction by value off: only for the benchmark's side-by-side baseline. */
  valueDetection?: boolean;
  integrateIntervalMs?: number;
  /** The cosigning step of publishing each checkpoint (witnesses), when configured. */
  cosign?: Cosign;
  /** Told what was repaired on open: the log's files, or a damaged dedupe store rebuilt. */
  onRepair?: (message: string) => void;
  onError?: (err: unknown) => void;
  /** Told how far the dedupe store has caught up with the log (all of it when the store is new). */
  onCatchUp?: CatchUpProgress;
}

export interface OpenIngest {
  log: AuditLog;
  deduper: Deduper;
  pipeline: IngestPipeline;
  /**
   * Prepares webhook bodies for `pipeline.ingestPrepared`, with the same transform. Its
   * worker threads start on first use: import and follow never need them.
   */
  readonly receiver: Receiver;
  /** Waits for in-flight appends, then closes the dedupe store and the log. */
  close(): Promise<void>;
}

export async function openIngest(storage: Storage, setup: IngestSetup = {}): Promise<OpenIngest> {
  // Config files are read before the log is opened so a typo fails fast without touching the data.
  const policy = setup.policyFile !== undefined ? loadPolicyFile(setup.policyFile) : undefined;
  const extraRules =
    setup.redactionRulesFile !== undefined ? loadRedactionRules(setup.redactionRulesFile) : undefined;
  const detectors =
    setup.secretDetectorsFile !== undefined ? readDetectorConfig(setup.secretDetectorsFile) : undefined;
  const log = await storage.openLog({
    integrateIntervalMs: setup.integrateIntervalMs,
    cosign: setup.cosign,
    onRepair: setup.onRepair,
    onError: setup.onError,
  });
  try {
    const key = await storage.loadOrCreateRedactionKey();
    const transformOptions = {
      policy,
      redaction: { key, extraRules, detectors, values: setup.valueDetection },
    };
    const transform = createIngestTransform(transformOptions);
    // The SQLite store of earlier versions: its successor is derived from the log in its place.
    for (const suffix of ["", "-wal", "-shm"])
      rmSync(path.join(storage.stateDir, `dedupe.db${suffix}`), { force: true });
    const deduper = await Deduper.open(
      path.join(storage.stateDir, "dedupe"),
      log,
      setup.onCatchUp,
      (reason) => setup.onRepair?.(`rebuilt from the log: ${reason}`),
    );
    deduper.onFlushError = setup.onError;
    const pipeline = createPipeline({ log, deduper, transform });
    let receiver: Receiver | undefined;
    let closed = false;
    return {
      log,
      deduper,
      pipeline,
      get receiver() {
        if (closed) throw new Error("ingest is closed");
        return (receiver ??= startReceiver({
          transform: transformOptions,
          limits: {
            maxItems: setup.maxItems ?? DEFAULT_PARSE_LIMITS.maxItems,
            maxParseBytes: setup.maxParseBytes ?? DEFAULT_PARSE_LIMITS.maxParseBytes,
          },
          budget: setup.memoryBudget,
        }));
      },
      async close() {
        closed = true;
        await receiver?.close();
        await pipeline.drain();
        await deduper.close();
        await log.close();
      },
    };
  } catch (err) {
    await log.close();
    throw err;
  }
}
