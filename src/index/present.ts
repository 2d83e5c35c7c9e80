// The JSON shape of query answers, shared by `kubetrail query -o json` and GET /v1/events so a
// script can switch between them. Each item carries the log index (for proofs) and the entry
// exactly as stored.
import { encodeCursor, type Cursor } from "./query.js";
import type { ResolvedEntry } from "./resolve.js";
import type { IndexRow } from "./row.js";

export interface EventItem {
  index: number;
  /** The entry as stored; absent when its bytes were pruned or erased after it was indexed. */
  event?: unknown;
  /** Why the entry's bytes are gone (then `event` is absent). */
  gone?: { state: string; reason: string };
}

export interface EventListJson {
  apiVersion: "kubetrail.dev/v1";
  kind: "EventList";
  /** `continue`: pass as `cursor` to get the next page; absent on the last page. */
  metadata: { continue?: string };
  items: EventItem[];
  [key: string]: unknown;
}

export function eventItem(e: ResolvedEntry): EventItem {
  if (e.gone !== undefined) return { index: e.row.idx, gone: { state: e.gone.state, reason: e.gone.reason } };
  return { index: e.row.idx, event: e.value };
}

export function eventList(entries: readonly ResolvedEntry[], next?: Cursor): EventListJson {
  return {
    apiVersion: "kubetrail.dev/v1",
    kind: "EventList",
    metadata: next === undefined ? {} : { continue: encodeCursor(next) },
    items: entries.map(eventItem),
  };
}

/** `resource[.group][/subresource]`, the spelling --resource accepts; "" for non-resource requests. */
export function resourceLabel(r: Pick<IndexRow, "resource" | "apiGroup" | "subresource">): string {
  if (r.resource === null) return "";
  const group = r.apiGroup ? `.${r.apiGroup}` : "";
  const sub = r.subresource === null ? "" : `/${r.subresource}`;
  return `${r.resource}${group}${sub}`;
}

/** `namespace/name`, `name` for cluster-scoped objects, "" when there is no object. */
export function objectLabel(r: Pick<IndexRow, "namespace" | "name">): string {
  if (r.namespace && r.name) return `${r.namespace}/${r.name}`;
  return r.name ?? (r.namespace ? `${r.namespace}/` : "");
}
