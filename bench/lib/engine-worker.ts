// The detection worker thread of bench/lib/worker-evaluator.ts: loads the rules named in
// workerData and evaluates batches of log entries posted to it, replying with the alerts in order.
import { parentPort, workerData } from "node:worker_threads";
import { RuleEngine } from "../../src/detect/engine.js";
import { unpack, type WorkerReply, type WorkerRequest } from "./worker-evaluator.js";
import { loadRules, type LoadRulesOptions } from "../../src/detect/load-rules.js";

const port = parentPort;
if (!port) throw new Error("engine-worker.ts runs only as a worker thread");

let engine: RuleEngine;
try {
  engine = new RuleEngine(await loadRules(workerData as LoadRulesOptions));
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ loadError: (err as Error).message });
  process.exit(0);
}

port.on("message", (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    if (req.type === "reset") engine.resetStats();
    const alerts = [];
    if (req.type === "evaluate") {
      for (const e of unpack(req.batch)) alerts.push(...engine.evaluateEntry(e.index, e.data));
    }
    reply = { id: req.id, ok: true, alerts, stats: { ...engine.stats } };
  } catch (err) {
    reply = { id: req.id, ok: false, error: (err as Error).message };
  }
  port.postMessage(reply);
});
