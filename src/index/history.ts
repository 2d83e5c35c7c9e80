// `history KIND/NAME`: every change to one object, oldest first, with the request diff when
// the audit level recorded request bodies.
import type { LogReader } from "../store/types.js";
import type { QueryIndex } from "./db.js";
import { diffBodies, type FieldChange } from "./diff.js";
import { parseFilter, type ResourceSpec } from "./query.js";
import { resolveEntries, type ResolvedEntry } from "./resolve.js";

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

export interface HistoryQuery {
  resource: ResourceSpec;
  name: string;
  namespace?: string;
  limit: number;
  since?: string;
}

function requestObject(value: unknown): unknown {
  return (value as { requestObject?: unknown } | undefined)?.requestObject ?? undefined;
}

/** The object's changes, oldest first, read from the log and checked against the index. */
export async function objectHistory(
  index: QueryIndex,
  log: LogReader,
  q: HistoryQuery,
  nowUs: number,
): Promise<HistoryItem[]> {
  const filter = parseFilter({
    verb: CHANGE_VERBS,
    name: [q.name],
    ...(q.namespace === undefined ? {} : { namespace: [q.namespace] }),
    ...(q.since === undefined ? {} : { since: [q.since] }),
    limit: [String(q.limit)],
    asc: ["true"],
  });
  filter.resources = [{ ...q.resource, subresource: "*" }];
  filter.logSize = log.size();
  const rows = index
    .search(filter, nowUs)
    .rows.filter((r) => r.subresource === null || !NOT_A_CHANGE.has(r.subresource));
  const entries = await resolveEntries(log, rows);
  let baseline: unknown;
  return entries.map((entry): HistoryItem => {
    const { row } = entry;
    // A pruned or erased entry shows as its index row, without a body to compare.
    if (!row.hasRequestObject || entry.gone !== undefined) return { entry };
    const body = requestObject(entry.value);
    const succeeded = row.code === null || row.code < 400;
    if (row.verb === "patch") return { entry, body: "patch", changes: diffBodies(undefined, body) };
    if ((row.verb === "create" || row.verb === "update") && row.subresource === null) {
      const changes = diffBodies(baseline, body);
      if (succeeded) baseline = body;
      return { entry, body: "diff", changes };
    }
    return { entry };
  });
}
