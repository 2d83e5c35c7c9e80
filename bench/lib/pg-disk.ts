// The PostgreSQL baseline's disk: the same events as JSONB rows of the hash-chained table the
// other benches use, with the forensic expression indexes of the query bench (what makes it
// answer the same questions), measured after VACUUM with pg_total_relation_size, split into
// pg_table_size (heap, TOAST, free-space and visibility maps) and pg_indexes_size — the table's own footprint, without the
// server's WAL and catalogs.
import { createChainTable, insertBatch, PostgresUnavailable, startPostgres } from "../baselines/postgres.js";
import { createForensicIndexes } from "../baselines/postgres-queries.js";
import { log } from "../harness.js";

const INSERT_BATCH = 1000;

export interface PgDisk {
  /** Heap + TOAST + maps. */
  table: number;
  /** The primary key and the forensic indexes. */
  indexes: number;
  seconds: number;
}

/** Loads `lines` into a fresh server and measures; the reason when PostgreSQL is not available. */
export async function postgresDisk(lines: readonly Buffer[]): Promise<PgDisk | { skipped: string }> {
  let server;
  try {
    server = await startPostgres();
  } catch (err) {
    if (err instanceof PostgresUnavailable) return { skipped: err.message };
    throw err;
  }
  try {
    const client = await server.client();
    try {
      const started = process.hrtime.bigint();
      await createChainTable(client);
      for (let i = 0; i < lines.length; i += INSERT_BATCH) {
        await insertBatch(
          client,
          lines.slice(i, i + INSERT_BATCH).map((l) => l.toString("utf8")),
        );
        if (i % 100_000 === 0 && i > 0) log(`storage: postgres: ${i} rows`);
      }
      await createForensicIndexes(client);
      await client.query("VACUUM ANALYZE audit_events");
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const r = await client.query<{ table: string; indexes: string; total: string }>(
        "SELECT pg_table_size('audit_events') AS table, pg_indexes_size('audit_events') AS indexes, " +
          "pg_total_relation_size('audit_events') AS total",
      );
      const row = r.rows[0]!;
      // The two parts are what pg_total_relation_size adds up; a mismatch would be a wrong reading.
      if (Number(row.table) + Number(row.indexes) !== Number(row.total))
        throw new Error(
          `postgres: table ${row.table} + indexes ${row.indexes} is not the total ${row.total}`,
        );
      return { table: Number(row.table), indexes: Number(row.indexes), seconds };
    } finally {
      await client.end();
    }
  } finally {
    await server.stop();
  }
}
