// `history KIND/NAME`: every change to one object, oldest first, with the request diff when
// the audit level recorded request bodies. The question is an ordinary event filter, so a data
// directory and a remote server answer it alike; the diffs are computed from the entries.
import type { LogReader } from "../store/types.js";
import type { QueryIndex } from "./db.js";
import { diffBodies, type FieldChange } from "./diff.js";
import { parseFilter, type RawFilter, type ResourceSpec } from "./query.js";
import { resolveEntries, type ResolvedEntry, type ResolveOptions } from "./resolve.js";

export const CHANGE_VERBS = ["create", "update", "patch", "delete", "deletecollection"];

/** Subresources reached with a write verb that do not change the object itself. */
const NOT_A_CHANGE = new Set(["exec", "attach", "portforward", "proxy", "log", "token"]);

export interface HistoryItem {
  entry: ResolvedEntry;
  /**
   * "diff": the body replaced the object; changes are against the previous recorded body.
   * "patch": the body was a patch; changes list what it sets. Absent: no body recorded.
   */
  body?: "diff" | "patch";
  changes?: FieldChange[];
}

/** One object's changes: objects of the same name in different namespaces are different objects. */
export interface ObjectHistory {
  /** null for a cluster-scoped object. */
  namespace: string | null;
  items: HistoryItem[];
}

export interface HistoryQuery {
  resource: ResourceSpec;
  name: string;
  /** Undefined: the object in every namespace (and a cluster-scoped one), each shown separately. */
  namespace?: string;
  since?: string;
}

/** `deployments.apps/*`: the resource in the spelling the filter language parses, any subresource. */
export function resourceFilterText(spec: ResourceSpec): string {
  const group = spec.apiGroup === undefined ? "" : `.${spec.apiGroup === "" ? "core" : spec.apiGroup}`;
  return `${spec.resource}${group}/*`;
}

/** The events that may have changed the object, oldest first, as filter values. */
export function historyFilter(q: HistoryQuery): RawFilter {
  return {
    verb: CHANGE_VERBS,
    resource: [resourceFilterText(q.resource)],
    name: [q.name],
    ...(q.namespace === undefined ? {} : { namespace: [q.namespace] }),
    ...(q.since === undefined ? {} : { since: [q.since] }),
    asc: ["true"],
  };
}

/** Whether a request that matched historyFilter changed the object (not an exec, a log read, …). */
export function isChange(row: { subresource: string | null }): boolean {
  return row.subresource === null || !NOT_A_CHANGE.has(row.subresource);
}

function requestObject(value: unknown): unknown {
  return (value as { requestObject?: unknown } | undefined)?.requestObject ?? undefined;
}

/**
 * Groups the entries (oldest first, as historyFilter asks) by object and works out each change:
 * a create or update is diffed against the object's previous successful body, a patch lists what
 * it sets. Requests to subresources that do not change the object (exec, log, …) are left out.
 */
export function objectHistories(entries: Iterable<ResolvedEntry>): ObjectHistory[] {
  const objects = new Map<string | null, { history: ObjectHistory; baseline: unknown }>();
  for (const entry of entries) {
    const { row } = entry;
    if (!isChange(row)) continue;
    let object = objects.get(row.namespace);
    if (object === undefined) {
      object = { history: { namespace: row.namespace, items: [] }, baseline: undefined };
      objects.set(row.namespace, object);
    }
    object.history.items.push(change(entry, object));
  }
  return [...objects.values()].map((o) => o.history);
}

function change(entry: ResolvedEntry, object: { baseline: unknown }): HistoryItem {
  const { row } = entry;
  // A pruned or erased entry shows as its index row, without a body to compare.
  if (!row.hasRequestObject || entry.gone !== undefined) return { entry };
  const body = requestObject(entry.value);
  const succeeded = row.code === null || row.code < 400;
  if (row.verb === "patch") return { entry, body: "patch", changes: diffBodies(undefined, body) };
  if ((row.verb === "create" || row.verb === "update") && row.subresource === null) {
    const changes = diffBodies(object.baseline, body);
    if (succeeded) object.baseline = body;
    return { entry, body: "diff", changes };
  }
  return { entry };
}

/** The object's changes from a local index and log, read back from the log and checked. */
export async function objectHistory(
  index: QueryIndex,
  log: LogReader,
  q: HistoryQuery & {
    limit: number;
    /** Only entries below this log index (a checkpoint's size); default: the log's size. */
    logSize?: number;
    /** Set by authorization: only objects in these namespaces (EventFilter.allowedNamespaces). */
    allowedNamespaces?: readonly string[];
  },
  nowUs: number,
  resolve: ResolveOptions = {},
): Promise<ObjectHistory[]> {
  const filter = parseFilter({ ...historyFilter(q), limit: [String(q.limit)] });
  filter.logSize = q.logSize ?? log.size();
  if (q.allowedNamespaces !== undefined) filter.allowedNamespaces = q.allowedNamespaces;
  const entries = await resolveEntries(log, index.search(filter, nowUs).rows, resolve);
  return objectHistories(entries);
}
