// The timeline's counts (/v1/stats) for a filter, against the verified checkpoint's size.
import { useEffect, useState } from "preact/hooks";
import { getJsonPatiently, type Params } from "./api.js";
import type { FacetValue } from "./components/Facets.js";
import type { HistogramData } from "./components/Histogram.js";
import type { Trust } from "./trust/state.js";

export interface Stats {
  total: number;
  histogram: HistogramData;
  facets: Record<string, FacetValue[]>;
  complete: boolean;
  coveredSinceUs?: number;
}

export interface StatsState {
  stats?: Stats;
  error?: string;
  /** Time from asking to the answer (ms). */
  ms?: number;
  /** The answer shown is for the filter asked (not the previous one, kept while loading). */
  current: boolean;
}

export function useStats(params: Params | undefined, trust: Trust, top = 8): StatsState {
  const [state, setState] = useState<{ stats?: Stats; error?: string; ms?: number; key?: string }>({});
  const size = trust.checkpoint?.size;
  const key = params === undefined || size === undefined ? undefined : JSON.stringify([params, size, top]);
  useEffect(() => {
    if (key === undefined) return;
    const abort = new AbortController();
    const started = performance.now();
    getJsonPatiently<Stats>(
      "/v1/stats",
      { ...params, "tree-size": size, buckets: 90, top },
      abort.signal,
    ).then(
      (stats) => setState({ stats, ms: performance.now() - started, key }),
      (err: Error) => {
        if (err.name !== "AbortError") setState({ error: err.message, key });
      },
    );
    return () => abort.abort();
  }, [key]);
  const { key: answered, ...rest } = state;
  return { ...rest, current: answered !== undefined && answered === key };
}
