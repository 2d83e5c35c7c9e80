// What `kubetrail witness` and `kubetrail mirror` share: the data directory's lock, the
// cosigner key, the logs file (reloaded while running), split-view alerts with their evidence,
// and the HTTP(S) server they answer on.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import { readRulesConfig } from "../detect/rules-config.js";
import { createSinks } from "../detect/sinks/index.js";
import type { AlertSink } from "../detect/types.js";
import { createMetrics, type ServerMetrics } from "../server/metrics.js";
import type { Route } from "../server/route.js";
import { healthRoutes } from "../server/routes/health.js";
import { tlsMaterial } from "../server/run-serve.js";
import { startServer, type RunningServer } from "../server/server.js";
import { loadOrCreateToken, readTokenFile } from "../server/tokens.js";
import { acquireLock } from "../store/lock.js";
import { ed25519 } from "../tlog/ed25519.js";
import type { CosignatureSigner } from "../tlog/index.js";
import { loadOrCreateCosignerKey } from "./cosigner-key.js";
import { WitnessError } from "./errors.js";
import { reportContradiction, type Contradiction } from "./evidence.js";
import { loadLogsConfig, type LogConfig, type LogsConfig } from "./logs-config.js";
import { reloadingFile } from "./reloading-file.js";

export interface CosignerConfig {
  dataDir: string;
  /** The logs file; absent when `logs` are given directly (mirror --from). */
  logsFile?: string;
  /** Logs configured on the command line, beside those of the file. */
  extraLogs?: LogConfig[];
  /** The key name, fixed when the key is created. */
  name?: string;
  listen: { host: string; port: number };
  insecureHttp: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** A --rules-config file whose `sinks:` receive split-view alerts. */
  rulesConfig?: string;
  /** Read tokens for the routes of scope "read" (mirror entry bundles); default DATA/read-token. */
  readTokenFile?: string;
  reloadIntervalMs?: number;
}

export interface CosignerBase {
  signer: CosignatureSigner;
  /** The signer's key text, for threads that sign with it (check-thread.ts); never logged. */
  signerKey: string;
  logs: () => ReadonlyMap<string, LogConfig>;
  metrics: ServerMetrics;
  /** Keeps the evidence of a contradicting checkpoint and raises the split-view alert. */
  report(c: Contradiction): void;
  /** Starts the server with these routes (health and metrics added). */
  serve(routes: Route[], readTokens: boolean): Promise<RunningServer>;
  /** Closes what was opened, last first (also after a failed start). */
  close(): Promise<void>;
  /** Runs on close, before what the base opened. */
  onClose(fn: () => Promise<void> | void): void;
}

export async function openCosignerBase(
  role: "witness" | "mirror",
  cfg: CosignerConfig,
  logger: Logger,
): Promise<CosignerBase> {
  await mkdir(cfg.dataDir, { recursive: true });
  const lock = await acquireLock(path.resolve(cfg.dataDir, "LOCK"));
  const closers: (() => Promise<void> | void)[] = [() => lock.release()];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const { signer, signerKey } = await loadOrCreateCosignerKey(cfg.dataDir, role, cfg.name);
    const extra = new Map((cfg.extraLogs ?? []).map((l) => [l.origin, l] as const));
    let logs: () => ReadonlyMap<string, LogConfig> = () => extra;
    if (cfg.logsFile) {
      const file = await reloadingFile(cfg.logsFile, loadLogsConfig, {
        intervalMs: cfg.reloadIntervalMs,
        onReload: (m) => logger.info({ logs: file.current().logs.size }, m),
        onError: (err) =>
          logger.error(
            { err: (err as Error).message },
            "logs file not reloaded; the previous version stays in force",
          ),
      });
      closers.push(() => file.close());
      // The same map until the file is reloaded: check threads (check-thread.ts) are sent the
      // keys again only when it changes.
      let merged: { from: LogsConfig; logs: ReadonlyMap<string, LogConfig> } | undefined;
      logs = () => {
        const current = file.current();
        if (merged?.from !== current)
          merged = {
            from: current,
            logs: extra.size === 0 ? current.logs : new Map([...current.logs, ...extra]),
          };
        return merged.logs;
      };
    }
    const sinks: AlertSink[] = cfg.rulesConfig
      ? await createSinks((await readRulesConfig(cfg.rulesConfig)).sinks)
      : [];
    closers.push(async () => {
      await Promise.all(sinks.map((s) => s.close?.()));
    });
    const metrics = createMetrics();
    const contradictions = new Counter({
      name: `kubetrail_${role}_split_view_total`,
      help: "Validly signed checkpoints refused because they contradict the one held (forks, rollbacks)",
      registers: [metrics.registry],
    });
    const base: CosignerBase = {
      signer,
      signerKey,
      logs,
      metrics,
      report: (c) =>
        reportContradiction(c, {
          dataDir: cfg.dataDir,
          who: signer.name,
          logger,
          sinks,
          onReported: () => contradictions.inc(),
        }),
      serve: async (routes, readTokens) => {
        const tls = await tlsMaterial({ ...cfg, clientCa: undefined }, logger);
        const tokens = !readTokens
          ? []
          : cfg.readTokenFile
            ? await readTokenFile(cfg.readTokenFile)
            : [(await loadOrCreateToken(path.join(cfg.dataDir, "read-token"))).token];
        const server = await startServer(
          {
            routes: [...healthRoutes({ ready: () => true, registry: metrics.registry }), ...routes],
            auth: { ingestTokens: [], readTokens: tokens },
            logger,
            metrics,
            tls,
          },
          cfg.listen,
        ).catch((err: unknown) => {
          throw new WitnessError(
            "config",
            `cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(err as Error).message}`,
          );
        });
        closers.push(() => server.close(5_000));
        logger.info(
          {
            address: server.address,
            url: `${tls ? "https" : "http"}://${server.address}`,
            name: signer.name,
            verifierKey: signer.verifierKey,
            logs: logs().size,
            // Which Ed25519 the cosignatures cost (docs/witnesses.md): the addon or node:crypto.
            ed25519: ed25519.name,
          },
          `${role} ready`,
        );
        return server;
      },
      close,
      onClose: (fn) => closers.push(fn),
    };
    return base;
  } catch (err) {
    await close();
    throw err;
  }
}
