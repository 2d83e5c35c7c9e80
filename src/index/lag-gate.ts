// Back-pressure from the query index on webhook ingest. On a machine whose cores are all busy
// with ingest, nothing else slows the webhook when the index falls behind, and its lag (how
// stale every query's answer is) grows for as long as the load lasts. With a bound set, a
// webhook batch arriving while the index is further behind than the bound waits (before it is
// appended, so nothing unacknowledged is at risk) until the index is back within it, or for at
// most INDEX_WAIT_MAX_MS: acceptance slows to what the index sustains, and never stops because of
// the index. The gate is open while the index has not caught up since start (a first fill or a
// rebuild from the log takes minutes and must not throttle ingest) and while it is rebuilt.
import type { Indexer } from "./indexer.js";

/**
 * `serve --index-max-lag`'s default: off. While batches wait, the apiserver buffers audit events
 * and drops what overflows its buffer; a stale index is repaired by waiting, a dropped event
 * never. Operators who prefer fresh queries over that risk turn the bound on.
 */
export const DEFAULT_INDEX_MAX_LAG_MS = 0;
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
  indexer: Pick<Indexer, "lag" | "status" | "caughtUp">,
  maxLagMs: number,
  opts: { maxWaitMs?: number; pollMs?: number } = {},
): IndexLagGate {
  if (!(maxLagMs >= 0)) throw new RangeError(`index max lag ${maxLagMs} ms is not a duration`);
  const maxWaitMs = opts.maxWaitMs ?? INDEX_WAIT_MAX_MS;
  const pollMs = opts.pollMs ?? POLL_MS;
  let armed = false;
  if (maxLagMs > 0)
    indexer.caughtUp().then(
      () => (armed = true),
      () => undefined,
    );
  const total = { seconds: 0, batches: 0 };
  const behind = (): boolean =>
    armed && indexer.status().state === "ready" && indexer.lag().seconds * 1000 > maxLagMs;
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
