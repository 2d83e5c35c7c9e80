// `kubetrail witness`: a C2SP tlog-witness over its own data directory — its cosigner key
// (DATA/keys/witness.key), what it cosigned per log (DATA/witness/), fork evidence
// (DATA/evidence/) — serving the logs listed in a file it reloads while it runs.
import path from "node:path";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import type { RunningServer } from "../server/server.js";
import { CheckThreads } from "./check-thread.js";
import { CheckpointStore } from "./checkpoint-store.js";
import { checkCrashPoints, crashPoint } from "./crash-points.js";
import { openCosignerBase, type CosignerConfig } from "./cosigner-base.js";
import { witnessRoutes } from "./routes.js";
import { Witness } from "./witness.js";

export type WitnessConfig = CosignerConfig;

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
    const checker = new CheckThreads({ signerKey: base.signerKey });
    base.onClose(() => checker.close());
    const replies = new Counter({
      name: "kubetrail_witness_add_checkpoint_total",
      help: "add-checkpoint requests by HTTP status",
      labelNames: ["code"],
      registers: [base.metrics.registry],
    });
    const witness = new Witness({
      store,
      checker,
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
