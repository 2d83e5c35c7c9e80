// Detection on a worker thread, for bench/detect.ts to compare with serve's in-thread detection
// (src/detect/live.ts): the worker (engine-worker.ts) loads the rules itself, since rules are
// code and cannot be sent, and evaluates entries posted to it. It pays off only for entries read
// from the log as bytes, whose parsing then stays off the ingest thread.
import { emptyStats, type EngineStats } from "../../src/detect/engine.js";
import type { Evaluator } from "../../src/detect/evaluator.js";
import type { LoadRulesOptions } from "../../src/detect/load-rules.js";
import { DetectError, evaluable, type Alert, type DetectEntry } from "../../src/detect/types.js";
import { WorkerCalls } from "../../src/worker/calls.js";
import { startWorker, workerModule } from "../../src/worker/start.js";

/**
 * Messages to the worker (engine-worker.ts) and its replies. A batch travels as one packed
 * buffer (transferred, not copied) plus offsets: entries read from the log are views into whole
 * bundles, and cloning a view would copy its bundle each time.
 */
export interface PackedEntries {
  indexes: number[];
  /** Entry i is bytes.subarray(ends[i-1] ?? 0, ends[i]). */
  ends: number[];
  bytes: Uint8Array;
}
type Request = { type: "evaluate"; batch: PackedEntries } | { type: "reset" };
export type WorkerRequest = Request & { id: number };
export type WorkerReply =
  { id: number; ok: true; alerts: Alert[]; stats: EngineStats } | { id: number; ok: false; error: string };

const WORKER = workerModule(import.meta.url, "engine-worker");

/**
 * Starts a worker thread that loads the rules itself (rules are code and cannot be sent) and
 * evaluates there. Rejects with the loader's error if the rules do not load.
 */
export async function workerEvaluator(load: LoadRulesOptions): Promise<Evaluator> {
  const worker = startWorker(WORKER, load);
  let lastStats = emptyStats();
  await new Promise<void>((resolve, reject) => {
    const onMessage = (msg: { ready?: true; loadError?: string }) => {
      if (msg.ready) resolve();
      else if (msg.loadError !== undefined) reject(new DetectError("rule", msg.loadError));
      else return;
      worker.off("message", onMessage);
    };
    worker.on("message", onMessage);
    worker.once("error", reject);
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  const calls = new WorkerCalls<WorkerReply>(worker, "detection worker");

  const call = async (req: Request, transfer: ArrayBuffer[] = []): Promise<WorkerReply> => {
    try {
      return await calls.call(req, transfer);
    } catch (err) {
      throw new DetectError("rule", (err as Error).message);
    }
  };
  const expectOk = (reply: WorkerReply): Alert[] => {
    if (!reply.ok) throw new DetectError("rule", `detection worker: ${reply.error}`);
    lastStats = reply.stats;
    return reply.alerts;
  };

  return {
    evaluate: async (entries) => {
      const batch = pack(entries);
      return expectOk(await call({ type: "evaluate", batch }, [batch.bytes.buffer as ArrayBuffer]));
    },
    resetStats: async () => {
      expectOk(await call({ type: "reset" }));
    },
    stats: () => ({ ...lastStats }),
    close: () => calls.terminate(),
  };
}

const encoder = new TextEncoder();

function pack(all: readonly DetectEntry[]): PackedEntries {
  // Pruned or erased entries have nothing to evaluate.
  const entries = all.filter(evaluable);
  // A parsed entry crosses to the worker as JSON again (cheaper than a structured clone); that
  // encode alone costs more than evaluating the entry here, which is why serve does (live.ts).
  const data = entries.map((e) => ("data" in e ? e.data : encoder.encode(JSON.stringify(e.parsed))));
  let total = 0;
  for (const d of data) total += d.length;
  const bytes = new Uint8Array(total);
  const ends: number[] = [];
  let at = 0;
  for (const d of data) {
    bytes.set(d, at);
    at += d.length;
    ends.push(at);
  }
  return { indexes: entries.map((e) => e.index), ends, bytes };
}

export function* unpack(batch: PackedEntries): Generator<{ index: number; data: Uint8Array }> {
  let start = 0;
  for (let i = 0; i < batch.indexes.length; i++) {
    const end = batch.ends[i] as number;
    yield { index: batch.indexes[i] as number, data: batch.bytes.subarray(start, end) };
    start = end;
  }
}
