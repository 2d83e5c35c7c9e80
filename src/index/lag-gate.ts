// Back-pressure from the query index on webhook ingest. On a machine whose cores are all busy
// with ingest, nothing else slows the webhook when the index falls behind, and its lag (how
// stale every query's answer is) grows for as long as the load lasts. With a bound set, a
// webhook batch arriving while the index is further behind what ingest acknowledged than the
// bound waits (before it is appended, so nothing unacknowledged is at risk) until the index is
// back within it, or for at most INDEX_WAIT_MAX_MS: acceptance slows to what the index
// sustains, and never stops because of the index. The lag is counted from acknowledgement, not
// from the checkpoint: under load integration hands the index tens of thousands of entries at
// once, which ingest had long acknowledged, and a gate that waited for them would act too late.
// The integration interval, which every entry waits by design, is allowed on top of the bound.
// The gate is open while the index has not caught up since start (a first fill or a rebuild from
// the log takes minutes and must not throttle ingest) and while it is rebuilt.
import type { Indexer } from "./indexer.js";

/**
 * `serve --index-max-lag`'s default. A held batch costs the apiserver nothing but a slower
 * answer: its batching backend sends each batch on a goroutine of its own and keeps draining its
 * buffer meanwhile, and its webhook timeout is far longer than the wait. The bound only acts
 * when events arrive faster than the index can take them, which the apiserver's default batch
 * throttle never reaches on a machine like the benchmarks'.
 */
export const DEFAULT_INDEX_MAX_LAG_MS = 2_000;
/** The longest one webhook batch waits for the index: then it goes ahead anyway. */
export const INDEX_WAIT_MAX_MS = 2_000;
/** How often a waiting batch looks at the lag again. */
const POLL_MS = 10;

export interface IndexLagGate {
  /** Resolves at once when the index is within the bound, else when it is back within it (or the wait is up). */
  wait(): Promise<void>;
  /** Seconds batches have waited in total, and how many waited (for /metrics). */
  waited(): { seconds: number; batches: number };
}

export function indexLagGate(
  indexer: Pick<Indexer, "backlog" | "status" | "caughtUp">,
  maxLagMs: number,
  opts: {
    maxWaitMs?: number;
    pollMs?: number;
    /** Added to the bound: the log's integration interval, which every entry may wait by design. */
    allowanceMs?: number;
  } = {},
): IndexLagGate {
  if (!(maxLagMs >= 0)) throw new RangeError(`index max lag ${maxLagMs} ms is not a duration`);
  const maxWaitMs = opts.maxWaitMs ?? INDEX_WAIT_MAX_MS;
  const pollMs = opts.pollMs ?? POLL_MS;
  const limitMs = maxLagMs + (opts.allowanceMs ?? 0);
  let armed = false;
  if (maxLagMs > 0)
    indexer.caughtUp().then(
      () => (armed = true),
      () => undefined,
    );
  const total = { seconds: 0, batches: 0 };
  const behind = (): boolean =>
    armed && indexer.status().state === "ready" && indexer.backlog().seconds * 1000 > limitMs;
  return {
    async wait() {
      if (!behind()) return;
      const started = performance.now();
      total.batches++;
      while (behind() && performance.now() - started < maxWaitMs)
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      total.seconds += (performance.now() - started) / 1000;
    },
    waited: () => ({ ...total }),
  };
}
