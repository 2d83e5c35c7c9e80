// `kubetrail mirror`: a C2SP tlog-mirror over its own data directory — its cosigner key
// (DATA/keys/mirror.key), the pending checkpoints (DATA/mirror/), the copies
// (DATA/logs/<origin hash>/) and split-view evidence (DATA/evidence/). Logs listed with a `url`
// (or given with --from) are pulled from their tlog-tiles prefix; the others are pushed to it.
import path from "node:path";
import type { Logger } from "pino";
import { Counter } from "prom-client";
import { HttpClient } from "../publish/http-client.js";
import type { RunningServer } from "../server/server.js";
import { CheckpointStore } from "../witness/checkpoint-store.js";
import { openCosignerBase, type CosignerConfig } from "../witness/cosigner-base.js";
import { Mirror } from "./mirror.js";
import { Puller, type PullResult } from "./pull.js";
import { TilesClient } from "./tiles-client.js";
import { mirrorRoutes } from "./routes.js";

export interface MirrorConfig extends CosignerConfig {
  /** How often pulled logs are read. */
  pullIntervalMs: number;
  /** Read token for pulled logs' entry bundles. */
  pullToken?: string;
  /** CA bundle (PEM text) trusted for pulled logs. */
  pullCa?: string;
  pullInsecure?: boolean;
  /** Pull every pulled log once, then stop (no server). */
  once: boolean;
  /** Told how far each pull has come: entries held of the log's checkpoint size. */
  onProgress?: (origin: string, done: number, total: number) => void;
}

export interface RunningMirror {
  server: RunningServer | null;
  verifierKey: string;
  /** Results of the rounds of --once. */
  pulled: PullResult[];
  shutdown(): Promise<void>;
}

export async function runMirror(cfg: MirrorConfig, logger: Logger): Promise<RunningMirror> {
  const base = await openCosignerBase("mirror", cfg, logger);
  try {
    const pending = await CheckpointStore.open(path.join(cfg.dataDir, "mirror"), "pending", {
      onRepair: (m) => logger.warn({ repair: m }, "repaired on open"),
    });
    base.onClose(() => pending.close());
    const mirror = new Mirror({
      dataDir: cfg.dataDir,
      logs: base.logs,
      signer: base.signer,
      pending,
      onFork: (e) => base.report(e),
      onRepair: (m) => logger.warn({ repair: m }, "repaired on open"),
    });
    const http = new HttpClient({
      ...(cfg.pullCa ? { ca: cfg.pullCa } : {}),
      insecure: cfg.pullInsecure === true,
    });
    base.onClose(() => http.close());
    const puller = new Puller(mirror, { onFork: (e) => base.report(e) });
    const pulled = () => [...base.logs().values()].filter((l) => l.url !== undefined);
    const pullAll = async (): Promise<PullResult[]> => {
      const results: PullResult[] = [];
      for (const log of pulled()) {
        try {
          const source = new TilesClient(http, log.url!, { token: cfg.pullToken, timeoutMs: 60_000 });
          const r = await puller.pull(log.origin, source, (done, total) =>
            cfg.onProgress?.(log.origin, done, total),
          );
          if (r.fetched > 0) logger.info(r, "mirrored");
          results.push(r);
        } catch (err) {
          logger.error(
            { origin: log.origin, url: log.url, err: (err as Error).message },
            "pulling the log failed",
          );
          if (cfg.once) throw err;
        }
      }
      return results;
    };
    if (cfg.once) {
      const results = await pullAll();
      await base.close();
      return {
        server: null,
        verifierKey: base.signer.verifierKey,
        pulled: results,
        shutdown: async () => undefined,
      };
    }
    const replies = new Counter({
      name: "kubetrail_mirror_requests_total",
      help: "add-checkpoint and add-entries requests by endpoint and HTTP status",
      labelNames: ["endpoint", "code"],
      registers: [base.metrics.registry],
    });
    const server = await base.serve(
      mirrorRoutes(
        mirror,
        () => base.logs().keys(),
        (endpoint, status) => replies.inc({ endpoint, code: String(status) }),
      ),
      true,
    );
    // Pulled logs are read one round after another; a round's failure is logged and retried.
    let stopped = false;
    let round: Promise<unknown> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const loop = (): void => {
      if (stopped) return;
      round = pullAll().finally(() => {
        if (!stopped) timer = setTimeout(loop, cfg.pullIntervalMs);
      });
    };
    if (pulled().length > 0) loop();
    base.onClose(async () => {
      stopped = true;
      clearTimeout(timer);
      await round.catch(() => undefined);
    });
    let stopping: Promise<void> | undefined;
    return {
      server,
      verifierKey: base.signer.verifierKey,
      pulled: [],
      shutdown: () => (stopping ??= base.close()),
    };
  } catch (err) {
    await base.close();
    throw err;
  }
}
