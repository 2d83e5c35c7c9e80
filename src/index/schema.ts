// The SQLite schema of DATA/index.db. Bump SCHEMA_VERSION on any change: an index with another
// version is deleted and rebuilt from the log rather than migrated (it is derived data).

export const SCHEMA_VERSION = 5;

export const SCHEMA_SQL = `
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  -- Random per (re)build: a process that cached group-set ids notices a rebuild underneath it.
  generation TEXT NOT NULL,
  origin TEXT NOT NULL,
  -- Number of log entries indexed: entries [0, position) have rows. Written in the same
  -- transaction as the rows, so a crash can neither skip nor double-index an entry.
  position INTEGER NOT NULL
);

CREATE TABLE entries (
  idx INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  kind TEXT NOT NULL,
  time_us INTEGER NOT NULL,
  time TEXT,
  stage_time TEXT,
  user TEXT,
  uid TEXT,
  group_set INTEGER,
  imp_user TEXT,
  imp_groups TEXT,
  verb TEXT,
  resource TEXT,
  subresource TEXT,
  namespace TEXT,
  name TEXT,
  api_group TEXT,
  api_version TEXT,
  code INTEGER,
  -- The client address (first of sourceIPs; later ones are proxies), and all of them for display.
  source_ip TEXT,
  source_ips TEXT,
  user_agent TEXT,
  decision TEXT,
  reason TEXT,
  audit_id TEXT,
  stage TEXT,
  stage_rank INTEGER,
  -- 1 on the row that is the furthest stage seen for its auditID: the default "one row per request".
  final INTEGER NOT NULL,
  level TEXT,
  request_uri TEXT,
  has_body INTEGER NOT NULL,
  -- The entry's length in bytes (0 when it was pruned or erased before it was indexed). Entries are
  -- read back from the log by idx, whatever stores it.
  entry_length INTEGER NOT NULL
);

-- Users carry the same few group lists over and over: each distinct list is stored once and
-- entries point to it, so a --group filter is a lookup of set ids, not one row per group per entry.
CREATE TABLE group_sets (
  id INTEGER PRIMARY KEY,
  groups TEXT NOT NULL UNIQUE
);
CREATE TABLE group_members (
  grp TEXT NOT NULL,
  set_id INTEGER NOT NULL,
  PRIMARY KEY (grp, set_id)
) WITHOUT ROWID;

-- One index per forensic question: who (user), what (verb), which object, which outcome, from
-- where. They cover only final rows (one per request, what queries return by default): half the
-- rows never enter them, which halves their upkeep. --stage queries use the time index.
CREATE INDEX entries_user_time ON entries (user, time_us) WHERE final = 1;
CREATE INDEX entries_verb_time ON entries (verb, time_us) WHERE final = 1;
CREATE INDEX entries_object_time ON entries (resource, namespace, name, time_us) WHERE final = 1;
CREATE INDEX entries_code_time ON entries (code, time_us) WHERE final = 1;
CREATE INDEX entries_groups_time ON entries (group_set, time_us) WHERE final = 1;
CREATE INDEX entries_source_time ON entries (source_ip, time_us) WHERE final = 1;
CREATE INDEX entries_time ON entries (time_us);
-- Admission decisions are few beside events: --kind decision must not scan every event.
CREATE INDEX entries_kind_time ON entries (kind, time_us) WHERE final = 1 AND kind <> 'Event';
CREATE INDEX entries_audit_id ON entries (audit_id);
-- kubetrail's own records (alerts, admission decisions) by kind and time: a few rows among
-- millions of events, which the UI lists without scanning the events.
CREATE INDEX entries_records ON entries (kind, time_us) WHERE kind <> 'Event';
`;
