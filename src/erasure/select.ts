// Erasure by query filter: which entries the filter takes, found with the query index (the
// same filter words as `query` and the HTTP API), so the erased set is the set a dry run, or a
// `query` with every stage, lists.
//
// A filter matches index rows, and a request has a row per stage: `code=403` matches its
// ResponseComplete event but not its RequestReceived one, which names the same user and
// address. So the matches are widened to every entry of the same requests (by auditID, looked
// up in the index again): an erasure takes whole requests, never a stage of one.
import {
  FILTER_NAMES,
  parseFilter,
  MAX_LIMIT,
  type Cursor,
  type FilterName,
  type RawFilter,
} from "../index/query.js";
import type { QuerySession } from "../index/session.js";
import { STAGES } from "../audit/types.js";
import { LogError } from "../store/types.js";

/** The filters an erasure takes: the query's, less those that shape a listing (stage, page). */
const LISTING_ONLY: readonly FilterName[] = ["stage", "limit", "asc", "cursor"];
export const ERASE_FILTER_NAMES = FILTER_NAMES.filter((n) => !LISTING_ONLY.includes(n));

/**
 * Filters that say whose or which data: at least one must be given. The others (time, verb,
 * outcome, kind) alone would select whole stretches of history, which is retention's work
 * (recorded as such), not an erasure of someone's data.
 */
const NARROWING = ["user", "group", "resource", "namespace", "name", "source-ip", "audit-id"];

/** IDs per index lookup when widening to whole requests (SQLite's bound parameters stay small). */
const IDS_PER_LOOKUP = 500;

export interface FilterSelection {
  /** Log indexes of the matched entries and of every other entry of their requests, ascending. */
  indexes: number[];
  /** The auditIDs of the matched requests (kubetrail records quoting one go with them). */
  auditIDs: string[];
}

/**
 * Checks an erasure filter (names, values, one that narrows) and returns its canonical text:
 * what the erasure record names by keyed hash. Throws LogError("invalid") naming what is wrong.
 */
export function canonicalEraseFilter(raw: RawFilter): string {
  for (const name of Object.keys(raw))
    if (!(ERASE_FILTER_NAMES as readonly string[]).includes(name))
      throw new LogError(
        "invalid",
        `filter ${name}: not one an erasure takes (known: ${ERASE_FILTER_NAMES.join(", ")})`,
      );
  if (!NARROWING.some((n) => (raw[n as keyof RawFilter]?.length ?? 0) > 0))
    throw new LogError(
      "invalid",
      `the filter must say whose or which data (one of ${NARROWING.join(", ")}); time, verb and outcome alone select whole stretches of history, which retention removes`,
    );
  try {
    parseFilter(raw);
  } catch (err) {
    throw new LogError("invalid", `filter ${(err as Error).message}`, { cause: err });
  }
  const names = Object.keys(raw).sort();
  return JSON.stringify(names.map((n) => [n, raw[n as keyof RawFilter]]));
}

/** Every index row the filter matches below `size`, every stage, oldest first. */
function matching(session: QuerySession, raw: RawFilter, size: number, nowUs: number): number[] {
  const filter = parseFilter({ ...raw, stage: [...STAGES], asc: ["true"], limit: [String(MAX_LIMIT)] });
  filter.logSize = size;
  const out: number[] = [];
  let cursor: Cursor | undefined;
  do {
    if (cursor) filter.cursor = cursor;
    const page = session.index.search(filter, nowUs);
    for (const row of page.rows) out.push(row.idx);
    cursor = page.next;
  } while (cursor);
  return out;
}

/** The auditIDs of the entries at `indexes` (ascending), read from the log. */
async function auditIDsAt(session: QuerySession, indexes: readonly number[]): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let i = 0; i < indexes.length;) {
    // Runs of consecutive indexes are read in one pass.
    let end = i + 1;
    while (end < indexes.length && indexes[end] === indexes[end - 1]! + 1) end++;
    for await (const e of session.log.readEntries(indexes[i]!, indexes[end - 1]! + 1)) {
      if (e.data === undefined) continue;
      const id = (JSON.parse(Buffer.from(e.data).toString("utf8")) as { auditID?: unknown }).auditID;
      if (typeof id === "string" && id !== "") ids.add(id);
    }
    i = end;
  }
  return ids;
}

/** What an erasure by `raw` takes in the log as the session sees it (its latest checkpoint). */
export async function selectByFilter(
  session: QuerySession,
  raw: RawFilter,
  nowUs = Date.now() * 1000,
): Promise<FilterSelection> {
  const size = session.log.latestCheckpoint().size;
  const matched = matching(session, raw, size, nowUs);
  const auditIDs = [...(await auditIDsAt(session, matched))];
  const all = new Set(matched);
  for (let i = 0; i < auditIDs.length; i += IDS_PER_LOOKUP)
    for (const idx of matching(session, { "audit-id": auditIDs.slice(i, i + IDS_PER_LOOKUP) }, size, nowUs))
      all.add(idx);
  return { indexes: [...all].sort((a, b) => a - b), auditIDs };
}
