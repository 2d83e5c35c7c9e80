// The SQLite schema of DATA/index.db. Bump SCHEMA_VERSION on any change: an index with another
// version is deleted and rebuilt from the log rather than migrated (it is derived data).
//
// The index keeps only what filters, ordering and "one row per request" need; everything shown
// is derived again from the entry's bytes, read back from the log (resolve.ts). Strings are
// interned: a row holds small integer ids into `strings`, since users, verbs, resources,
// namespaces and source addresses repeat across millions of events.

export const SCHEMA_VERSION = 7;

/** The columns of `entries` that hold a `strings` id. */
export const STRING_COLUMNS = [
  "kind",
  "user",
  "imp_user",
  "verb",
  "resource",
  "subresource",
  "namespace",
  "name",
  "api_group",
  "source_ip",
  "decision",
] as const;

/** Bytes of the leaf hash a row keeps: enough to catch a stale or foreign index, not a full hash. */
export const LEAF_PREFIX = 8;

const COMMENTED_SCHEMA = `
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  -- Random per (re)build, and new when retention deletes rows: a process that cached dictionary
  -- or group-set ids, or rows (the web UI's stats), notices and reads them again.
  generation TEXT NOT NULL,
  -- Random per (re)build only: the dictionary's ids stay valid for as long as it does.
  build TEXT NOT NULL,
  origin TEXT NOT NULL,
  -- Number of log entries indexed: entries [0, position) have rows. Written in the same
  -- transaction as the rows, so a crash can neither skip nor double-index an entry.
  position INTEGER NOT NULL,
  -- When position last moved (milliseconds since the epoch), for status displays.
  indexed_at INTEGER,
  -- Moves when strings or group lists no row refers to any more are blanked (forget-strings.ts):
  -- a connection then drops its cached value → id maps.
  strings_epoch INTEGER NOT NULL DEFAULT 0,
  -- Counts deletions of rows (retention) since the strings they alone named were last blanked;
  -- counted before the rows go, so after a crash between the two the next run blanks them.
  strings_pending INTEGER NOT NULL DEFAULT 0
);

-- Every distinct string a row refers to (user, verb, resource, namespace, name, ...), once. Ids are
-- handed out in order and never reused or deleted within a generation, so a gap means damage.
-- value is NULL once no row refers to it (retention deleted them all).
CREATE TABLE strings (
  id INTEGER PRIMARY KEY,
  value TEXT UNIQUE
);

CREATE TABLE entries (
  idx INTEGER PRIMARY KEY,
  -- The first LEAF_PREFIX bytes of the entry's leaf hash: an answer's bytes read back from the
  -- log must hash to it.
  leaf BLOB NOT NULL,
  -- NULL for audit events (nearly every row); else the strings id of a record kind, "pruned",
  -- "erased" or "unknown".
  kind INTEGER,
  time_us INTEGER NOT NULL,
  -- strings ids:
  user INTEGER,
  imp_user INTEGER,
  verb INTEGER,
  resource INTEGER,
  subresource INTEGER,
  namespace INTEGER,
  name INTEGER,
  api_group INTEGER,
  -- The client address (first of sourceIPs; later ones are proxies).
  source_ip INTEGER,
  decision INTEGER,
  group_set INTEGER,
  code INTEGER,
  -- The first 8 bytes of SHA-256(auditID) as a signed integer.
  audit INTEGER,
  -- STAGE_RANK of the stage; NULL when the entry is not an audit event.
  stage_rank INTEGER,
  -- 1 on the row that is the furthest stage seen for its auditID: the default "one row per request".
  final INTEGER NOT NULL,
  -- 0 None, 1 Metadata, 2 Request, 3 RequestResponse.
  level INTEGER
);

-- Users carry the same few group lists over and over: each distinct list is stored once and
-- entries point to it, so a --group filter is a lookup of set ids, not one row per group per entry.
CREATE TABLE group_sets (
  id INTEGER PRIMARY KEY,
  -- NULL, and no members, once no row refers to it.
  groups TEXT UNIQUE
);
CREATE TABLE group_members (
  grp TEXT NOT NULL,
  set_id INTEGER NOT NULL,
  PRIMARY KEY (grp, set_id)
) WITHOUT ROWID;

-- One index per forensic question: who (user), what (verb), which object, which outcome, from
-- where. They cover only final rows (one per request, what queries return by default): the
-- other stages never enter them. --stage queries use the time index.
CREATE INDEX entries_user_time ON entries (user, time_us) WHERE final = 1;
CREATE INDEX entries_verb_time ON entries (verb, time_us) WHERE final = 1;
CREATE INDEX entries_object_time ON entries (resource, namespace, name, time_us) WHERE final = 1;
CREATE INDEX entries_code_time ON entries (code, time_us) WHERE final = 1;
CREATE INDEX entries_groups_time ON entries (group_set, time_us) WHERE final = 1;
CREATE INDEX entries_source_time ON entries (source_ip, time_us) WHERE final = 1;
CREATE INDEX entries_time ON entries (time_us);
CREATE INDEX entries_audit ON entries (audit);
-- kubetrail's own records (alerts, admission decisions) by kind and time: a few rows among
-- millions of events, which the UI and --kind list without scanning the events.
CREATE INDEX entries_records ON entries (kind, time_us) WHERE kind IS NOT NULL;
`;

/**
 * The schema as executed, without its comments: SQLite keeps each CREATE statement's text in
 * sqlite_schema, comments and all. Stripped, the schema stays within the file's first page;
 * spread over later pages, damage among the rows could take it and the file would not open
 * (the start check, quick_check, is what should find such damage).
 */
export const SCHEMA_SQL = COMMENTED_SCHEMA.replace(/--[^\n]*/g, "");

/** The part of better-sqlite3's Database the dictionary check uses (check-worker.ts has no more). */
interface Queryable {
  prepare(sql: string): { get(): unknown };
}

/**
 * What is wrong with the strings dictionary, or undefined. Ids are handed out one after another
 * and never deleted within a generation: fewer rows than the highest id means some were lost.
 * It reads the whole table, so it runs with SQLite's quick_check, not on every open.
 */
export function dictionaryProblem(db: Queryable): string | undefined {
  const r = db.prepare("SELECT COUNT(*) AS n, MAX(id) AS top FROM strings").get() as
    { n: number; top: number | null } | undefined;
  if (r === undefined || r.n === (r.top ?? 0)) return undefined;
  return `dictionary: ${r.n} strings but ids up to ${r.top}`;
}
