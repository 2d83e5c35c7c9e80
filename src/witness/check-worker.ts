// An add-checkpoint check thread (see check-thread.ts): check.ts with the signatures checked
// and made here, in line.
import { parentPort, workerData } from "node:worker_threads";
import { CosignatureSigner, NoteVerifier, openCheckpoint } from "../tlog/index.js";
import { nameThisThread } from "../worker/thread-name.js";
import { checkAddCheckpoint, type CheckContext } from "./check.js";
import type { CheckRequest, CheckThreadData } from "./check-thread.js";

const port = parentPort;
if (!port) throw new Error("check-worker runs only as a worker thread");
nameThisThread("kt-wit-check");

const data = workerData as CheckThreadData;
const ctx: CheckContext = {
  verifiers: new Map(),
  signer: data.signerKey === undefined ? undefined : CosignatureSigner.fromKey(data.signerKey),
  open: openCheckpoint,
};

port.on("message", (m: CheckRequest & { id?: number }) => {
  if ("logs" in m) {
    ctx.verifiers = new Map(
      m.logs.map(([origin, keys]) => [origin, keys.map((k) => NoteVerifier.fromKey(k))]),
    );
    return;
  }
  checkAddCheckpoint(m.body, m.held, ctx).then(
    (outcome) => port.postMessage({ id: m.id, outcome }),
    (err: unknown) => port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
