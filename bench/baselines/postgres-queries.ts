// The forensic questions of the query bench as SQL on the hash-chained PostgreSQL table, with
// the expression indexes a careful do-it-yourself deployment would add. Timestamps are
// MicroTime strings of one fixed format, so text comparison orders them correctly.
import type pg from "pg";

/** B-tree expression indexes for the three questions (built after loading, as one would). */
export const FORENSIC_INDEXES = [
  `CREATE INDEX audit_by_user ON audit_events ((event->'user'->>'username'), (event->>'verb'), (event->>'requestReceivedTimestamp'))`,
  `CREATE INDEX audit_by_object ON audit_events ((event->'objectRef'->>'name'), (event->'objectRef'->>'namespace'), (event->'objectRef'->>'resource'))`,
  `CREATE INDEX audit_by_code ON audit_events (((event->'responseStatus'->>'code')::int), (event->>'requestReceivedTimestamp'))`,
];

export async function createForensicIndexes(db: pg.Pool | pg.Client): Promise<void> {
  for (const sql of FORENSIC_INDEXES) await db.query(sql);
  await db.query("ANALYZE audit_events");
}

export interface ForensicQuery {
  sql: string;
  params: (string | number)[];
}

/** Who did `verb` as `user` since `since` (MicroTime): the completed requests' auditIDs. */
export function byUserVerbSince(user: string, verb: string, since: string): ForensicQuery {
  return {
    sql: `SELECT event->>'auditID' AS audit_id FROM audit_events
          WHERE event->'user'->>'username' = $1 AND event->>'verb' = $2
            AND event->>'requestReceivedTimestamp' >= $3 AND event->>'stage' = 'ResponseComplete'
          ORDER BY id`,
    params: [user, verb, since],
  };
}

/** Every change to one object (create/update/patch/delete), oldest first. */
export function objectHistory(
  resource: string,
  apiGroup: string,
  namespace: string,
  name: string,
): ForensicQuery {
  return {
    sql: `SELECT event->>'auditID' AS audit_id FROM audit_events
          WHERE event->'objectRef'->>'name' = $4 AND event->'objectRef'->>'namespace' = $3
            AND event->'objectRef'->>'resource' = $1 AND coalesce(event->'objectRef'->>'apiGroup', '') = $2
            AND event->>'verb' IN ('create', 'update', 'patch', 'delete', 'deletecollection')
            AND event->>'stage' = 'ResponseComplete'
          ORDER BY id`,
    params: [resource, apiGroup, namespace, name],
  };
}

/** Requests answered with `code` (e.g. 403) since `since`. */
export function byCodeSince(code: number, since: string): ForensicQuery {
  return {
    sql: `SELECT event->>'auditID' AS audit_id FROM audit_events
          WHERE (event->'responseStatus'->>'code')::int = $1 AND event->>'requestReceivedTimestamp' >= $2
            AND event->>'stage' = 'ResponseComplete'
          ORDER BY id`,
    params: [code, since],
  };
}

/** Runs a forensic query; returns the matching auditIDs in log order. */
export async function runForensic(db: pg.Pool | pg.Client, q: ForensicQuery): Promise<string[]> {
  const r = await db.query<{ audit_id: string }>(q.sql, q.params);
  return r.rows.map((row) => row.audit_id);
}
