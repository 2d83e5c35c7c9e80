// The filter a page shows, as the CLI's filter language: `user=alice verb=delete,patch
// since=24h` (also `--user alice`). The same names are the URL's parameters and the API's,
// and the same parser as the CLI (src/index/query.ts) checks it, with the same messages.
import { FILTER_NAMES, parseFilter } from "../../src/index/query.js";

export type FilterPairs = [string, string][];

/** Names a page's filter may hold: the query language without paging. */
export const FILTER_FIELDS = FILTER_NAMES.filter((n) => n !== "limit" && n !== "cursor" && n !== "asc");
const FIELDS = new Set<string>(FILTER_FIELDS);
export const TIME_FIELDS = new Set(["since", "from", "to"]);

export function pairsFromParams(params: URLSearchParams): FilterPairs {
  const out: FilterPairs = [];
  for (const [k, v] of params) if (FIELDS.has(k)) out.push([k, v]);
  return out;
}

export function paramsFromPairs(pairs: FilterPairs): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) p.append(k, v);
  return p;
}

export function formatFilter(pairs: FilterPairs): string {
  return pairs.map(([k, v]) => `${k}=${/[\s"]/.test(v) || v === "" ? JSON.stringify(v) : v}`).join(" ");
}

function tokens(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let cur = "";
  let inToken = false;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const glued = inToken && m.index === last;
    const piece = m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : (m[2] as string);
    if (glued) cur += piece;
    else {
      if (inToken) out.push(cur);
      cur = piece;
      inToken = true;
    }
    last = re.lastIndex;
  }
  if (inToken) out.push(cur);
  return out;
}

/**
 * Parses the filter box: `name=value` or `--name value` / `--name=value` terms. Returns the
 * pairs, or the error the CLI would print for the same filter.
 */
export function parseFilterText(text: string): { pairs: FilterPairs } | { error: string } {
  const pairs: FilterPairs = [];
  const ts = tokens(text);
  for (let i = 0; i < ts.length; i++) {
    let t = ts[i] as string;
    let flag = false;
    if (t.startsWith("--")) {
      t = t.slice(2);
      flag = true;
    }
    const eq = t.indexOf("=");
    let name: string;
    let value: string;
    if (eq >= 0) {
      name = t.slice(0, eq);
      value = t.slice(eq + 1);
    } else if (flag && i + 1 < ts.length) {
      name = t;
      value = ts[++i] as string;
    } else {
      return { error: `"${ts[i]}": write name=value, e.g. user=alice (names: ${FILTER_FIELDS.join(", ")})` };
    }
    if (!FIELDS.has(name)) return { error: `${name}: unknown filter (known: ${FILTER_FIELDS.join(", ")})` };
    pairs.push([name, value]);
  }
  try {
    const raw: Record<string, string[]> = {};
    for (const [k, v] of pairs) (raw[k] ??= []).push(v);
    parseFilter(raw);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return { pairs };
}

/** Adds the value to the filter, or removes it when present (facet clicks). */
export function toggle(pairs: FilterPairs, name: string, value: string): FilterPairs {
  const has = pairs.some(([k, v]) => k === name && v === value);
  return has ? pairs.filter(([k, v]) => !(k === name && v === value)) : [...pairs, [name, value]];
}

/** The filter with its time terms replaced. */
export function withTime(pairs: FilterPairs, time: FilterPairs): FilterPairs {
  return [...pairs.filter(([k]) => !TIME_FIELDS.has(k)), ...time];
}

export function has(pairs: FilterPairs, name: string, value: string): boolean {
  return pairs.some(([k, v]) => k === name && v === value);
}
