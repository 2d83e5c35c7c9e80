// Where the rule engine runs for the live detector: in this thread (what serve does, on the
// entries ingest already parsed: see live.ts). The bench compares it with an evaluator on a
// worker thread (bench/lib/worker-evaluator.ts), through the same interface.
import { setImmediate } from "node:timers/promises";
import { RuleEngine, type EngineStats } from "./engine.js";
import type { Alert, DetectEntry, Rule } from "./types.js";

export interface Evaluator {
  /** Evaluates entries in order; resolves with their alerts in order. */
  evaluate(entries: readonly DetectEntry[]): Promise<Alert[]>;
  /** Zeroes the counters (after replaying history that was evaluated before). */
  resetStats(): Promise<void>;
  stats(): EngineStats;
  close(): Promise<void>;
}

/**
 * Entries evaluated between two turns of the event loop: the feed hands over thousands at a
 * time (a checkpoint's worth), and entries that came from a receive worker are parsed here, so
 * one unbroken run held every webhook acknowledgement due meanwhile (tens of milliseconds).
 */
const EVALUATE_SLICE = 256;

export function localEvaluator(rules: Rule[]): Evaluator {
  const engine = new RuleEngine(rules);
  return {
    evaluate: async (entries) => {
      const alerts: Alert[] = [];
      for (const [i, e] of entries.entries()) {
        if (i > 0 && i % EVALUATE_SLICE === 0) await setImmediate();
        const raised = engine.evaluate(e);
        if (raised.length > 0) alerts.push(...raised);
      }
      return alerts;
    },
    resetStats: async () => engine.resetStats(),
    stats: () => ({ ...engine.stats }),
    close: async () => {},
  };
}
