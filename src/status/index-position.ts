// How far DATA/index.db has got, read on a read-only connection of its own (SQLite WAL: a reader
// never blocks the indexer that writes, nor waits for it beyond a short busy timeout). Only the
// meta row is read, which every schema version has kept: status works on any index, current,
// outdated or damaged.
import { existsSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { INDEX_FILE } from "../index/db.js";
import { SCHEMA_VERSION } from "../index/schema.js";

export type IndexFileState =
  | { state: "ok"; position: number }
  /** Built by another version of kubetrail: the next open rebuilds it. */
  | { state: "outdated"; position: number; message: string }
  | { state: "missing"; message: string }
  | { state: "damaged"; message: string };

export function readIndexPosition(stateDir: string): IndexFileState {
  const file = path.join(stateDir, INDEX_FILE);
  if (!existsSync(file))
    return { state: "missing", message: `${INDEX_FILE} is not there (built by the first query or serve)` };
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    // A checkpoint of the indexer's WAL holds the lock for a moment; never wait longer.
    db.pragma("busy_timeout = 2000");
    const meta = db
      .prepare<[], { position: unknown; schema_version: unknown }>(
        "SELECT position, schema_version FROM meta WHERE id = 1",
      )
      .get();
    if (meta === undefined) return { state: "damaged", message: `${INDEX_FILE}: no meta row` };
    const position = Number(meta.position);
    if (!Number.isSafeInteger(position) || position < 0)
      return {
        state: "damaged",
        message: `${INDEX_FILE}: position ${String(meta.position)} is not a log index`,
      };
    if (meta.schema_version !== SCHEMA_VERSION)
      return {
        state: "outdated",
        position,
        message: `${INDEX_FILE}: schema version ${String(meta.schema_version)}, this kubetrail builds ${SCHEMA_VERSION}; rebuilt on the next open`,
      };
    return { state: "ok", position };
  } catch (err) {
    return { state: "damaged", message: `${INDEX_FILE}: ${(err as Error).message}` };
  } finally {
    db?.close();
  }
}
