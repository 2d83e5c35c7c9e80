// `kubetrail witness`: a C2SP tlog-witness over its own data directory — its cosigner key
// (DATA/keys/witness.key), what it cosigned per log (DATA/witness/), fork evidence
// (DATA/evidence/) — serving the logs listed in a file it reloads while it runs.
import path from "node:path";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import type { RunningServer } from "../server/server.js";
import { lowerLibuvPool } from "../worker/libuv-pool.js";
import { CheckpointStore } from "./checkpoint-store.js";
import { checkCrashPoints, crashPoint } from "./crash-points.js";
import { openCosignerBase, type CosignerConfig } from "./cosigner-base.js";
import { witnessRoutes } from "./routes.js";
import { Witness } from "./witness.js";

export type WitnessConfig = CosignerConfig;

/** How far below the event loop libuv's pool runs: far enough that a woken pool thread never preempts it. */
const POOL_NICE_LEVELS = 10;

export interface RunningWitness {
  server: RunningServer;
  verifierKey: string;
  shutdown(): Promise<void>;
}

export async function runWitness(cfg: WitnessConfig, logger: Logger): Promise<RunningWitness> {
  // Test-only crash points (crash-points.ts): refused unless explicitly enabled.
  const { compactBytes } = checkCrashPoints();
  const base = await openCosignerBase("witness", cfg, logger);
  try {
    const store = await CheckpointStore.open(path.join(cfg.dataDir, "witness"), "cosigned", {
      onRepair: (m) => logger.warn({ repair: m }, "repaired on open"),
      compactBytes,
    });
    base.onClose(() => store.close());
    // The Ed25519 work of every request runs on libuv's pool (node:crypto with callbacks):
    // below the event loop, so that it never takes the core from it (libuv-pool.ts).
    const pool = await lowerLibuvPool(POOL_NICE_LEVELS);
    if ("threads" in pool)
      logger.debug({ threads: pool.threads.length, nice: pool.nice }, "thread pool lowered");
    else logger.warn({ reason: pool.unchanged }, "thread pool left at the event loop's priority");
    const replies = new Counter({
      name: "kubetrail_witness_add_checkpoint_total",
      help: "add-checkpoint requests by HTTP status",
      labelNames: ["code"],
      registers: [base.metrics.registry],
    });
    const witness = new Witness({
      store,
      signer: base.signer,
      logs: base.logs,
      onFork: (e) => base.report(e),
    });
    const server = await base.serve(
      witnessRoutes(
        witness,
        (status) => replies.inc({ code: String(status) }),
        () => crashPoint("reply-sent"),
      ),
      false,
    );
    let stopping: Promise<void> | undefined;
    return { server, verifierKey: base.signer.verifierKey, shutdown: () => (stopping ??= base.close()) };
  } catch (err) {
    await base.close();
    throw err;
  }
}
