// The timeline: filter box, time presets, histogram, facets and the list of requests. The
// filter lives in the URL (the same names as the CLI's flags and the API's parameters).
import { useEffect, useMemo, useState } from "preact/hooks";
import { EventTable } from "../components/EventTable.js";
import { Facets } from "../components/Facets.js";
import { Histogram } from "../components/Histogram.js";
import {
  formatFilter,
  pairsFromParams,
  paramsFromPairs,
  parseFilterText,
  toggle,
  withTime,
  type FilterPairs,
} from "../filter.js";
import { usePaged } from "../paged.js";
import { navigate, type Location } from "../router.js";
import { useStats } from "../stats.js";
import type { Trust } from "../trust/state.js";

const PRESETS: [string, string][] = [
  ["15m", "15 min"],
  ["1h", "1 hour"],
  ["24h", "24 hours"],
  ["7d", "7 days"],
];

function go(pairs: FilterPairs): void {
  const q = paramsFromPairs(pairs).toString();
  navigate(q === "" ? "/?all=1" : `/?${q}`);
}

export function filterParams(pairs: FilterPairs): Record<string, string[]> {
  const params: Record<string, string[]> = {};
  for (const [k, v] of pairs) (params[k] ??= []).push(v);
  return params;
}

export function Timeline({ loc, trust }: { loc: Location; trust: Trust }) {
  const pairs = useMemo(() => pairsFromParams(loc.params), [loc]);
  // A first visit shows the last day; `all=1` (or any time term) says the choice was made.
  useEffect(() => {
    if (pairs.length === 0 && !loc.params.has("all")) navigate("/?since=24h", { replace: true });
  }, [pairs, loc]);
  const text = formatFilter(pairs);
  const [draft, setDraft] = useState(text);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    setDraft(text);
    setError(undefined);
  }, [text]);

  const params = useMemo(() => filterParams(pairs), [pairs]);
  const { stats, error: statsError, current } = useStats(params, trust);
  const paged = usePaged("/v1/entries", params, trust);
  const since = pairs.find(([k]) => k === "since")?.[1];
  const from = pairs.find(([k]) => k === "from")?.[1];
  const to = pairs.find(([k]) => k === "to")?.[1];
  const [custom, setCustom] = useState(false);

  const apply = (e: Event): void => {
    e.preventDefault();
    const parsed = parseFilterText(draft);
    if ("error" in parsed) setError(parsed.error);
    else go(parsed.pairs);
  };

  return (
    <div
      class="timeline"
      data-filter={paramsFromPairs(pairs).toString()}
      data-busy={!current || paged.loading || (paged.rows.length === 0 && !paged.done) ? "true" : "false"}
    >
      <form class="filter-bar" onSubmit={apply} role="search">
        <label for="filter-text">Filter</label>
        <input
          id="filter-text"
          type="search"
          value={draft}
          spellcheck={false}
          autocomplete="off"
          placeholder="user=alice verb=delete resource=secrets namespace=prod code=4xx since=24h"
          aria-describedby="filter-help filter-error"
          aria-invalid={error !== undefined}
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Apply</button>
        <p id="filter-help" class="muted small">
          The CLI's filter language: user, group, verb, resource, namespace, name, code, source-ip, decision,
          stage, audit-id, since, from, to (name=value; commas for alternatives).
        </p>
        {error !== undefined && (
          <p id="filter-error" class="error" role="alert">
            {error}
          </p>
        )}
      </form>

      <div class="time-bar" role="group" aria-label="Time range">
        {PRESETS.map(([value, label]) => (
          <button
            type="button"
            key={value}
            aria-pressed={since === value && !from && !to}
            onClick={() => go(withTime(pairs, [["since", value]]))}
          >
            {label}
          </button>
        ))}
        <button type="button" aria-pressed={!since && !from && !to} onClick={() => go(withTime(pairs, []))}>
          All time
        </button>
        <button type="button" aria-pressed={custom || (!!from && !since)} onClick={() => setCustom(!custom)}>
          Custom…
        </button>
        {(custom || (from && !since)) && (
          <form
            class="custom-range"
            onSubmit={(e) => {
              e.preventDefault();
              const f = new FormData(e.target as HTMLFormElement);
              const range: FilterPairs = [];
              const a = String(f.get("from") ?? "");
              const b = String(f.get("to") ?? "");
              if (a) range.push(["from", `${a}:00Z`]);
              if (b) range.push(["to", `${b}:59Z`]);
              go(withTime(pairs, range));
            }}
          >
            <label>
              From (UTC) <input name="from" type="datetime-local" defaultValue={from?.slice(0, 16) ?? ""} />
            </label>
            <label>
              To (UTC) <input name="to" type="datetime-local" defaultValue={to?.slice(0, 16) ?? ""} />
            </label>
            <button type="submit">Set range</button>
          </form>
        )}
        <span class="total" aria-live="polite" data-testid="total">
          {stats ? `${stats.total.toLocaleString()} requests` : statsError ? "" : "counting…"}
        </span>
      </div>
      {statsError && (
        <p class="error" role="alert">
          {statsError}
        </p>
      )}
      {stats && !stats.complete && (
        <p class="banner warn">
          Counts cover requests since {new Date((stats.coveredSinceUs ?? 0) / 1000).toISOString()} only (older
          ones are beyond the server's --ui-stats-rows); the list below is complete.
        </p>
      )}

      <div class="timeline-body">
        <Facets
          facets={stats?.facets}
          pairs={pairs}
          onToggle={(name, value) => go(toggle(pairs, name, value))}
        />
        <div class="timeline-main">
          <Histogram
            data={stats?.histogram}
            onZoom={(a, b) =>
              go(
                withTime(pairs, [
                  ["from", new Date(a / 1000).toISOString()],
                  ["to", new Date(b / 1000).toISOString()],
                ]),
              )
            }
          />
          <EventTable paged={paged} trust={trust} caption="Requests matching the filter, newest first" />
        </div>
      </div>
    </div>
  );
}
