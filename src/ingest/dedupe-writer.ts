// Writes dedupe records to SQLite on a worker thread. Each record is a random key into a B-tree
// much larger than SQLite's cache, so every flush dirties hundreds of pages; on the event loop
// that cost 5–10 µs per ingested event and stalled every request for tens of milliseconds per
// flush. The worker has its own connection; the event loop keeps one for lookups, which WAL
// lets run beside the writer.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { WorkerCalls } from "../worker/calls.js";
import { RECORD_BYTES, type RecordTable } from "./record-table.js";
/** Rows per INSERT statement: one statement per row costs twice as much per row. */
const INSERT_ROWS = 16;

const SEEN_SCHEMA = `
  CREATE TABLE IF NOT EXISTS seen (k INTEGER NOT NULL, h BLOB NOT NULL, PRIMARY KEY (k, h)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * Both connections: WAL, and no fsync (synchronous OFF): the store is derived from the log. A
 * power loss may drop its latest transactions — `covered` with them, so catch-up re-derives
 * them — and an unreadable file is rebuilt (see Deduper.open).
 */
const SEEN_PRAGMAS = ["journal_mode = WAL", "synchronous = OFF"];

/** A connection to the store at `path`, creating its tables when they are missing. */
export function openSeenStore(path: string): Database.Database {
  const db = new Database(path);
  for (const p of SEEN_PRAGMAS) db.pragma(p);
  db.exec(SEEN_SCHEMA);
  return db;
}

// Self-contained so it runs the same from dist/ and from the TypeScript sources under test.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const db = new Database(workerData.path);
for (const p of workerData.pragmas) db.pragma(p);
// Enough cache for the upper levels of the B-tree and the pages a large flush touches.
db.pragma("cache_size = -32768");
const one = db.prepare("INSERT OR IGNORE INTO seen (k, h) VALUES (?, ?)");
const many = db.prepare("INSERT OR IGNORE INTO seen (k, h) VALUES " + Array(workerData.insertRows).fill("(?, ?)").join(", "));
const setCovered = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('covered', ?)");
const write = db.transaction((rows, covered) => {
  const n = rows.length / ${RECORD_BYTES};
  // In key order: consecutive inserts then land on the same or the next B-tree page, which
  // cost a quarter to a third less per row than random order (a probe of 30 flushes of 32k).
  const hi = (i) => rows.readInt32LE(i * ${RECORD_BYTES} + 4);
  const lo = (i) => rows.readUInt32LE(i * ${RECORD_BYTES});
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => hi(a) - hi(b) || lo(a) - lo(b));
  const args = [];
  const row = (r) => {
    const i = order[r];
    return [rows.readBigInt64LE(i * ${RECORD_BYTES}), rows.subarray(i * ${RECORD_BYTES} + 8, (i + 1) * ${RECORD_BYTES})];
  };
  let i = 0;
  for (; i + workerData.insertRows <= n; i += workerData.insertRows) {
    args.length = 0;
    for (let j = i; j < i + workerData.insertRows; j++) args.push(...row(j));
    many.run(...args);
  }
  for (; i < n; i++) one.run(...row(i));
  setCovered.run(String(covered));
});
parentPort.on("message", ({ id, rows, covered, close }) => {
  try {
    if (close) {
      db.close();
      parentPort.postMessage({ id });
      parentPort.close();
      return;
    }
    write(Buffer.from(rows), covered);
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message), code: err && err.code });
  }
});
`;

export class DedupeWriter {
  private readonly worker: WorkerCalls<{ error?: string; code?: string }>;

  constructor(path: string) {
    this.worker = new WorkerCalls(
      new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          path,
          pragmas: SEEN_PRAGMAS,
          insertRows: INSERT_ROWS,
          sqlite: createRequire(import.meta.url).resolve("better-sqlite3"),
        },
      }),
      "dedupe store writer",
    );
  }

  /**
   * Inserts the records and records that the log prefix `covered` is in the store, in one
   * transaction. The records are copied before it returns: the table may be reused at once.
   */
  write(records: RecordTable, covered: number): Promise<void> {
    const rows = records.toRows();
    return this.send({ rows: rows.buffer, covered }, [rows.buffer as ArrayBuffer]);
  }

  /** Closes the worker's connection (after the writes sent before) and stops the worker. */
  async close(): Promise<void> {
    try {
      await this.send({ close: true }, []);
    } finally {
      await this.worker.terminate();
    }
  }

  private async send(message: object, transfer: ArrayBuffer[]): Promise<void> {
    const reply = await this.worker.call(message, transfer);
    if (reply.error !== undefined)
      throw Object.assign(new Error(`dedupe store write failed: ${reply.error}`), { code: reply.code });
  }
}
