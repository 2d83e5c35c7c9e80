// `kubetrail witness`: a C2SP tlog-witness over its own data directory — its cosigner key
// (DATA/keys/witness.key), what it cosigned per log (DATA/witness/), fork evidence
// (DATA/evidence/) — serving the logs listed in a file it reloads while it runs.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import { createMetrics } from "../server/metrics.js";
import { healthRoutes } from "../server/routes/health.js";
import { tlsMaterial } from "../server/run-serve.js";
import { startServer, type RunningServer } from "../server/server.js";
import { acquireLock, type DirLock } from "../store/lock.js";
import { CheckpointStore } from "./checkpoint-store.js";
import { loadOrCreateCosignerKey } from "./cosigner-key.js";
import { keepEvidence } from "./evidence.js";
import { loadLogsConfig } from "./logs-config.js";
import { reloadingFile } from "./reloading-file.js";
import { witnessRoutes } from "./routes.js";
import { Witness } from "./witness.js";

export interface WitnessConfig {
  dataDir: string;
  logsFile: string;
  /** The witness's key name, fixed when its key is created. */
  name?: string;
  listen: { host: string; port: number };
  insecureHttp: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** How often the logs file is checked for changes. */
  reloadIntervalMs?: number;
}

export interface RunningWitness {
  server: RunningServer;
  verifierKey: string;
  shutdown(): Promise<void>;
}

export async function runWitness(cfg: WitnessConfig, logger: Logger): Promise<RunningWitness> {
  await mkdir(cfg.dataDir, { recursive: true });
  const lock: DirLock = await acquireLock(path.resolve(cfg.dataDir, "LOCK"));
  const closers: (() => Promise<void> | void)[] = [() => lock.release()];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const signer = await loadOrCreateCosignerKey(cfg.dataDir, "witness", cfg.name);
    const logs = await reloadingFile(cfg.logsFile, loadLogsConfig, {
      intervalMs: cfg.reloadIntervalMs,
      onReload: (m) => logger.info({ logs: logs.current().logs.size }, m),
      onError: (err) =>
        logger.error(
          { err: (err as Error).message },
          "logs file not reloaded; the previous version stays in force",
        ),
    });
    closers.push(() => logs.close());
    const store = await CheckpointStore.open(path.join(cfg.dataDir, "witness"), "cosigned", (m) =>
      logger.warn({ repair: m }, "repaired on open"),
    );
    closers.push(() => store.close());
    const metrics = createMetrics();
    const replies = new Counter({
      name: "kubetrail_witness_add_checkpoint_total",
      help: "add-checkpoint requests by HTTP status",
      labelNames: ["code"],
      registers: [metrics.registry],
    });
    const forks = new Counter({
      name: "kubetrail_witness_fork_evidence_total",
      help: "Validly signed checkpoints refused because they contradict the one cosigned",
      registers: [metrics.registry],
    });
    const witness = new Witness({
      store,
      signer,
      logs: () => logs.current().logs,
      onFork: (evidence) => {
        forks.inc();
        keepEvidence(cfg.dataDir, evidence).then(
          (file) =>
            logger.warn(
              {
                origin: evidence.origin,
                reason: evidence.reason,
                evidence: file,
                held: evidence.held,
                shown: evidence.shown,
              },
              "refused a checkpoint that contradicts the one cosigned: the log may have forked",
            ),
          (err: unknown) => logger.error({ err: (err as Error).message }, "could not keep fork evidence"),
        );
      },
    });
    const tls = await tlsMaterial({ ...cfg, clientCa: undefined }, logger);
    const server = await startServer(
      {
        routes: [
          ...healthRoutes({ ready: () => true, registry: metrics.registry }),
          ...witnessRoutes(witness, (status) => replies.inc({ code: String(status) })),
        ],
        auth: { ingestTokens: [], readTokens: [], clientCertificates: false },
        logger,
        metrics,
        tls,
      },
      cfg.listen,
    );
    closers.push(() => server.close(5_000));
    logger.info(
      {
        address: server.address,
        url: `${tls ? "https" : "http"}://${server.address}`,
        name: signer.name,
        verifierKey: signer.verifierKey,
        logs: logs.current().logs.size,
      },
      "witness ready",
    );
    let stopping: Promise<void> | undefined;
    return { server, verifierKey: signer.verifierKey, shutdown: () => (stopping ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
