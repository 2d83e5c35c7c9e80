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

export function useStats(
  params: Params | undefined,
  trust: Trust,
  top = 8,
): { stats?: Stats; error?: string; ms?: number } {
  const [state, setState] = useState<{ stats?: Stats; error?: string; ms?: number }>({});
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
      (stats) => setState({ stats, ms: performance.now() - started }),
      (err: Error) => {
        if (err.name !== "AbortError") setState({ error: err.message });
      },
    );
    return () => abort.abort();
  }, [key]);
  return state;
}
