// The dedupe store's writer thread (see run-store.ts): sorting, writing and merging runs here
// keeps that work off the event loop, which only reads them.
import { parentPort, workerData } from "node:worker_threads";
import { nameThisThread } from "../../worker/thread-name.js";
import type { StoreIdentity } from "./manifest.js";
import { RunStoreWriter } from "./store-writer.js";

/** What the event loop asks; the first request is always "open". */
export type StoreRequest =
  | { op: "open" }
  | { op: "write"; rows: ArrayBuffer; covered: number }
  | { op: "release"; names: string[] }
  | { op: "idle" }
  | { op: "close" };

/** A reply (to the request of `id`), or a notice (no id) of new runs or a background failure. */
export type StoreMessage =
  | { id: number; covered?: number; error?: string; code?: string }
  | { notice: "runs"; runs: import("./run-view.js").RunView[] }
  | { notice: "filter"; words: SharedArrayBuffer }
  | { notice: "error"; message: string };

const port = parentPort!;
nameThisThread("kt-dedupe-store");
const { dir, identity } = workerData as { dir: string; identity: StoreIdentity };
let opened: Promise<RunStoreWriter> | null = null;

function post(message: StoreMessage): void {
  port.postMessage(message);
}

port.on("message", (m: StoreRequest & { id: number }) => {
  void (async () => {
    try {
      if (m.op === "open") {
        opened = RunStoreWriter.open(dir, identity, {
          runs: (runs) => post({ notice: "runs", runs }),
          filter: (words) => post({ notice: "filter", words }),
          error: (err) => post({ notice: "error", message: err.message }),
        });
        post({ id: m.id, covered: (await opened).covered });
        return;
      }
      if (opened === null) throw new Error("dedupe store not open");
      const writer = await opened;
      if (m.op === "write") await writer.write(new Uint8Array(m.rows), m.covered);
      else if (m.op === "release") writer.release(m.names);
      else if (m.op === "idle") await writer.idle();
      else await writer.close();
      post({ id: m.id });
      if (m.op === "close") port.close();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      post({
        id: m.id,
        error: err instanceof Error ? err.message : String(err),
        ...(typeof code === "string" ? { code } : {}),
      });
    }
  })();
});
