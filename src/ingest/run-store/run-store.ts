// The dedupe store as the event loop sees it: a set of immutable run files it reads (see
// run-reader.ts), written and merged by RunStoreWriter on a worker thread. The writer tells of
// every change to the set; a run merged away stays open here until the new set is adopted, and
// only then does the writer remove its file.
import type { KeyPrint } from "../key-hash.js";
import type { RecordTable } from "../record-table.js";
import { WorkerCalls } from "../../worker/calls.js";
import { startWorker, workerModule } from "../../worker/start.js";
import { filterMayContain } from "./filter.js";
import { BLOCK_BYTES } from "./format.js";
import type { StoreIdentity } from "./manifest.js";
import { RunReader } from "./run-reader.js";
import type { RunView } from "./run-view.js";
import type { StoreMessage, StoreRequest } from "./store-worker.js";
import type { StoreEvents } from "./store-writer.js";
import { IngestError } from "../errors.js";
import { STORE_CORRUPT } from "./corrupt.js";

/** How the event loop reaches the writer on its thread. */
interface WriterPort {
  write(rows: Uint8Array, covered: number): Promise<void>;
  release(names: string[]): Promise<void>;
  idle(): Promise<void>;
  close(): Promise<void>;
}

const WORKER = workerModule(import.meta.url, "store-worker");

export class RunStore {
  private readers = new Map<string, RunReader>();
  /** The store-wide filter, once the writer has built one: most new keys end there. */
  private filter: Uint32Array | null = null;
  /** One block read at a time (lookups are synchronous). */
  private readonly block = Buffer.allocUnsafe(BLOCK_BYTES);
  private port!: WriterPort;
  private coveredAtOpen = 0;
  /** Told of failures in the background (a merge); the store goes on serving. */
  onError?: (err: Error) => void;

  private constructor(private readonly dir: string) {}

  /** Opens the store in `dir`; throws with code store_corrupt when it must be rebuilt. */
  static async open(dir: string, identity: StoreIdentity): Promise<RunStore> {
    const store = new RunStore(dir);
    const events: StoreEvents = {
      runs: (views) => store.adopt(views),
      filter: (words) => (store.filter = new Uint32Array(words)),
      error: (err) => store.onError?.(err),
    };
    try {
      store.port = await openWorker(dir, identity, events, (covered) => (store.coveredAtOpen = covered));
    } catch (err) {
      store.closeReaders();
      throw err;
    }
    return store;
  }

  /** Log prefix the store covered when opened. */
  get covered(): number {
    return this.coveredAtOpen;
  }

  /** Adds to `found` each hash (hex) the store holds for `print` that it lacks. */
  collect(print: KeyPrint, found: string[]): void {
    if (this.filter !== null && !filterMayContain(this.filter, print.hi, print.lo)) return;
    for (const r of this.readers.values()) r.collect(print, found, this.block);
  }

  /** Writes the records as a run and records `covered`; durable when it resolves. */
  write(records: RecordTable, covered: number): Promise<void> {
    return this.port.write(records.toRows(), covered);
  }

  /** Resolves once the writer has no merge due or running (for tests and benchmarks). */
  idle(): Promise<void> {
    return this.port.idle();
  }

  /** Run files being read, the records they hold, and whether a store-wide filter is in use. */
  runs(): { count: number; records: number; filtered: boolean } {
    let records = 0;
    for (const r of this.readers.values()) records += r.records;
    return { count: this.readers.size, records, filtered: this.filter !== null };
  }

  async close(): Promise<void> {
    this.closeReaders();
    await this.port.close();
  }

  /** Reads from `views` from now on; runs no longer among them are closed and handed back. */
  private adopt(views: RunView[]): void {
    const next = new Map<string, RunReader>();
    for (const v of views) next.set(v.name, this.readers.get(v.name) ?? new RunReader(this.dir, v));
    const released: string[] = [];
    for (const [name, r] of this.readers) {
      if (next.has(name)) continue;
      r.close();
      released.push(name);
    }
    this.readers = next;
    if (released.length > 0)
      this.port.release(released).catch((err: unknown) => this.onError?.(err as Error));
  }

  private closeReaders(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }
}

async function openWorker(
  dir: string,
  identity: StoreIdentity,
  events: StoreEvents,
  opened: (covered: number) => void,
): Promise<WriterPort> {
  const calls = new WorkerCalls<Extract<StoreMessage, { id: number }>>(
    startWorker(WORKER, { dir, identity }),
    "dedupe store writer",
    (m) => {
      const notice = m as Exclude<StoreMessage, { id: number }>;
      if (notice.notice === "runs") events.runs(notice.runs);
      else if (notice.notice === "filter") events.filter(notice.words);
      else events.error(new IngestError("store_failed", `dedupe store: ${notice.message}`));
    },
  );
  const call = async (request: StoreRequest, transfer: ArrayBuffer[] = []) => {
    const reply = await calls.call(request, transfer);
    if (reply.error !== undefined) throw failed(request.op, reply);
    return reply;
  };
  try {
    opened((await call({ op: "open" })).covered ?? 0);
  } catch (err) {
    await calls.terminate();
    throw err;
  }
  return {
    write: async (rows, covered) => {
      await call({ op: "write", rows: rows.buffer as ArrayBuffer, covered }, [rows.buffer as ArrayBuffer]);
    },
    release: async (names) => {
      await call({ op: "release", names });
    },
    idle: async () => {
      await call({ op: "idle" });
    },
    close: async () => {
      try {
        await call({ op: "close" });
      } finally {
        await calls.terminate();
      }
    },
  };
}

/** The error for a failed request, keeping the code (store_corrupt says: rebuild). */
function failed(op: string, err: unknown): IngestError {
  const e = err as { message?: unknown; error?: unknown; code?: unknown };
  const message = String(e.error ?? e.message ?? err);
  return new IngestError(
    e.code === STORE_CORRUPT ? STORE_CORRUPT : "store_failed",
    `dedupe store ${op} failed: ${message}`,
    {
      cause: err instanceof Error ? err : undefined,
    },
  );
}
