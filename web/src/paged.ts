// Entries page by page (the API's cursor), each page's proofs queued for checking as it arrives.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { getJson, type Params } from "./api.js";
import { summarize, type EventSummary } from "./event.js";
import { proofs, type ProvenEntry } from "./trust/proofs.js";
import type { Trust } from "./trust/state.js";

export interface EntryList {
  treeSize: number;
  metadata: { continue?: string };
  items: ProvenEntry[];
}

export interface Row extends EventSummary {
  proven: ProvenEntry;
}

/** Rows held at most: beyond it the page asks for a narrower filter instead of growing forever. */
export const MAX_ROWS = 5000;

export interface Paged {
  rows: Row[];
  loading: boolean;
  error?: string;
  done: boolean;
  more(): void;
  /** Time from asking to having the first page (ms), for the bench. */
  firstPageMs?: number;
}

export function toRows(items: readonly ProvenEntry[]): Row[] {
  return items.map((p) => ({ ...summarize(p.index, p.entry), proven: p }));
}

export function usePaged(path: string, params: Params | undefined, trust: Trust, pageSize = 50): Paged {
  const [rows, setRows] = useState<Row[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [next, setNext] = useState<string | undefined>();
  const [firstPageMs, setFirstPageMs] = useState<number | undefined>();
  const generation = useRef(0);
  const size = trust.checkpoint?.size;
  const key = params === undefined || size === undefined ? undefined : JSON.stringify([path, params, size]);

  const load = useCallback(
    async (cursor: string | undefined, gen: number) => {
      if (params === undefined || size === undefined) return;
      setLoading(true);
      const started = performance.now();
      try {
        const page = await getJson<EntryList>(path, {
          ...params,
          limit: pageSize,
          "tree-size": size,
          cursor,
        });
        if (gen !== generation.current) return;
        void proofs.check(trust, page.items);
        setRows((old) => (cursor === undefined ? toRows(page.items) : [...old, ...toRows(page.items)]));
        setNext(page.metadata.continue);
        if (cursor === undefined) setFirstPageMs(performance.now() - started);
        setError(undefined);
      } catch (err) {
        if (gen === generation.current) setError((err as Error).message);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [key, trust],
  );

  useEffect(() => {
    const gen = ++generation.current;
    setRows([]);
    setNext(undefined);
    if (key !== undefined) void load(undefined, gen);
  }, [key]);

  useEffect(() => {
    // A re-verified checkpoint of the same size (e.g. after pinning) re-checks what is shown.
    void proofs.check(
      trust,
      rows.map((r) => r.proven),
    );
  }, [trust]);

  return {
    rows,
    loading,
    ...(error === undefined ? {} : { error }),
    done: next === undefined,
    ...(firstPageMs === undefined ? {} : { firstPageMs }),
    more: () => {
      if (!loading && next !== undefined && rows.length < MAX_ROWS) void load(next, generation.current);
    },
  };
}
