// The worker thread of index-writer.ts: owns a write connection to DATA/index.db, turns each
// batch it is sent into rows (parsing digests and bytes here, off the server's event loop) and
// writes them with the new position in one transaction; and deletes the rows of entries
// retention removed, so that serve's index has one writer.
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../worker/thread-name.js";
import { openIndex, type DroppedRows, type QueryIndex } from "./db.js";
import { IndexError } from "./errors.js";
import { INDEX_WRITER_THREAD_NAME, type WriterReply } from "./index-writer.js";
import { rowsOfBatch, type RowBatch } from "./row-batch.js";

const port = parentPort;
if (!port) throw new Error("index-writer-worker runs only as a worker thread");
const start = workerData as { dataDir: string; checkpointsItself: boolean };
let checkpointsItself = start.checkpointsItself;
nameThisThread(INDEX_WRITER_THREAD_NAME);

type Request =
  | { id: number; op: "write"; batch: RowBatch; newPosition: number }
  | { id: number; op: "drop"; rows: DroppedRows }
  | { id: number; op: "optimize" }
  | { id: number; op: "checkpoints"; on: boolean }
  | { id: number; op: "close"; optimize: boolean };

let index: QueryIndex | undefined;

/** The connection, opened on first use; the server created the file and its schema before starting this thread. */
function writeConnection(): QueryIndex {
  if (index === undefined) {
    const opened = openIndex(start.dataDir);
    if (opened.rebuilt !== undefined) {
      // Whatever was there is gone now: the server must refill from the start.
      opened.index.close();
      throw new IndexError(
        "corrupt",
        `${start.dataDir}: the index was replaced on opening (${opened.rebuilt})`,
      );
    }
    index = opened.index;
    index.checkpointsItself(checkpointsItself);
  }
  return index;
}

function handle(m: Request): Omit<WriterReply, "error"> {
  switch (m.op) {
    case "write": {
      const started = process.hrtime.bigint();
      const written = writeConnection().applyBatch(rowsOfBatch(m.batch), m.newPosition);
      return { written, busySeconds: Number(process.hrtime.bigint() - started) / 1e9 };
    }
    case "drop":
      return { deleted: writeConnection().dropRows(m.rows, { readersTold: true }) };
    case "optimize":
      writeConnection().optimize();
      return {};
    case "checkpoints":
      checkpointsItself = m.on;
      index?.checkpointsItself(m.on);
      return {};
    case "close":
      if (index !== undefined) {
        try {
          if (m.optimize) index.optimize();
        } finally {
          index.close();
          index = undefined;
        }
      }
      return {};
  }
}

port.on("message", (m: Request) => {
  let reply: WriterReply & { id: number };
  try {
    reply = { id: m.id, ...handle(m) };
  } catch (err) {
    const e = err as { name?: string; code?: unknown; message?: string };
    reply = {
      id: m.id,
      error: {
        name: err instanceof IndexError ? "IndexError" : (e.name ?? "Error"),
        ...(typeof e.code === "string" ? { code: e.code } : {}),
        message: e.message ?? String(err),
      },
    };
  }
  port.postMessage(reply);
});
