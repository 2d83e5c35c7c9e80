import type { FilterPairs } from "../filter.js";
import { has } from "../filter.js";

export interface FacetValue {
  key: string | null;
  count: number;
}

const TITLES: [string, string, string][] = [
  ["users", "user", "Users"],
  ["verbs", "verb", "Verbs"],
  ["resources", "resource", "Resources"],
  ["namespaces", "namespace", "Namespaces"],
  ["codes", "code", "Response codes"],
];

/** Top values per facet; a click adds the value to the filter (or takes it out again). */
export function Facets(props: {
  facets: Record<string, FacetValue[]> | undefined;
  pairs: FilterPairs;
  onToggle: (name: string, value: string) => void;
  only?: string[];
}) {
  return (
    <aside class="facets" aria-label="Facets">
      {TITLES.filter(([f]) => props.only === undefined || props.only.includes(f)).map(
        ([facet, name, title]) => {
          const values = props.facets?.[facet] ?? [];
          const max = Math.max(1, ...values.map((v) => v.count));
          return (
            <section key={facet} class="facet" aria-labelledby={`facet-${facet}`}>
              <h3 id={`facet-${facet}`}>{title}</h3>
              {props.facets === undefined ? (
                <p class="muted">…</p>
              ) : values.length === 0 ? (
                <p class="muted">none</p>
              ) : (
                <ul>
                  {values.map((v) => {
                    const label = v.key ?? "(none)";
                    const selected = v.key !== null && has(props.pairs, name, v.key);
                    return (
                      <li key={label}>
                        <button
                          type="button"
                          class={selected ? "facet-value selected" : "facet-value"}
                          aria-pressed={selected}
                          disabled={v.key === null}
                          data-facet={name}
                          data-value={v.key ?? ""}
                          onClick={() => v.key !== null && props.onToggle(name, v.key)}
                        >
                          <span
                            class="bar"
                            style={{ width: `${(100 * v.count) / max}%` }}
                            aria-hidden="true"
                          />
                          <span class="label">{label}</span>
                          <span class="count">{v.count.toLocaleString()}</span>
                        </button>
                      </li>
                    );
                  })}
                </ul>
              )}
            </section>
          );
        },
      )}
    </aside>
  );
}
