// `kubetrail serve` wired together: credentials, TLS, the ingest stack, routes, and an orderly
// shutdown that acknowledges nothing it has not made durable.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { followFile } from "../ingest/follow-file.js";
import type { CatchUpProgress } from "../ingest/dedupe.js";
import { openIngest, type IngestSetup, type OpenIngest } from "../ingest/open-ingest.js";
import { MemoryBudget } from "../ingest/memory-budget.js";
import { fsStorage } from "../store/fs/storage.js";
import type { Storage } from "../store/storage.js";
import type { AuditLog } from "../store/types.js";
import type { AuthConfig } from "./auth/chain.js";
import { caFingerprints, type ClientCaRights } from "./auth/credentials.js";
import { KubeReviewer } from "./auth/kube-review.js";
import { ClientError } from "../client/errors.js";
import { inClusterContext, kubeApiClient } from "../kube/credentials.js";
import { loadKubeContext, type KubeContext } from "../kube/kubeconfig.js";
import { ed25519 } from "../tlog/ed25519.js";
import type { ConnectionLimits } from "./connection-guard.js";
import { ConfigError } from "./config.js";
import type { LineOutput } from "./log-output.js";
import { createMetrics, type CheckpointStatus, type ServerMetrics } from "./metrics.js";
import type { Route } from "./route.js";
import { healthRoutes, type DegradedPart } from "./routes/health.js";
import { webhookRoutes } from "./routes/webhook.js";
import { startServer, type RunningServer, type TlsMaterial } from "./server.js";
import { loadOrCreateServingCert } from "./serving-cert.js";
import { sessionAuthenticator, type SessionStore } from "./session.js";
import { loadOrCreateToken, readTokenFile } from "./tokens.js";

export interface ServeConfig extends IngestSetup {
  /** The data directory: the log's storage unless `storage` is given, and serve's own state. */
  dataDir: string;
  /** Where the log is stored (default: the filesystem driver in dataDir). */
  storage?: Storage;
  listen: { host: string; port: number };
  insecureHttp: boolean;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  /** CA bundle whose client certificates may read the whole log (and /metrics). */
  readClientCa?: string;
  tokenFile?: string;
  readTokenFile?: string;
  /** /metrics requires a read credential or a metrics token. */
  metricsAuth?: boolean;
  metricsTokenFile?: string;
  maxBodyBytes: number;
  maxDecodedBodyBytes: number;
  requestTimeoutMs: number;
  /** A TLS handshake must complete within this time. */
  handshakeTimeoutMs?: number;
  /** Connections held before a credential is shown: in total and per source address. */
  connectionLimits?: ConnectionLimits;
  shutdownGraceMs: number;
  /** The apiserver's live audit log file to follow as well (`import --follow` inside serve). */
  followAuditLog?: string;
  /**
   * Awaited after a webhook batch is durable and before it is acknowledged (strict mirroring:
   * a mirror must hold it); an HttpError it throws is the answer.
   */
  ackGate?: (log: AuditLog) => Promise<void>;
  /** Memory webhook bodies may hold at once, parsing included (429 beyond); see MemoryBudget. */
  maxRequestMemory?: number;
  /** Kubernetes identities on the read API (TokenReview, SubjectAccessReview, x509 users). */
  kubeAuth?: KubeAuthConfig;
  /** The web UI's sessions, accepted as a read credential on GET (absent: no session cookie is). */
  sessions?: SessionStore;
}

export interface KubeAuthConfig {
  /** kubetrail's own kubeconfig for the apiserver; undefined: the in-cluster service account. */
  kubeconfig?: string;
  kubeContext?: string;
  /** PEM file of the cluster's client CA: certificates it issued are users (CN) and groups (O). */
  clientCa?: string;
  /** How long an allowed decision or accepted token is reused. */
  cacheTtlMs: number;
}

/** Modules that serve more endpoints or consume the log plug in here once the log is open. */
export interface ServeExtension {
  routes?: (ingest: OpenIngest, ctx: ExtensionContext) => Route[] | Promise<Route[]>;
  /** Started after the log is open; the returned function is awaited on shutdown. */
  start?: (ingest: OpenIngest, ctx: ExtensionContext) => Promise<() => Promise<void>>;
  /** What of it works below par now, for /readyz. */
  degraded?: () => DegradedPart[];
  /**
   * Awaited before a webhook batch is appended: a consumer of the log that is far behind may
   * slow acceptance this way (for a bounded time per batch; the query index does, see
   * src/index/lag-gate.ts).
   */
  beforeIngest?: () => Promise<void>;
}

/** What serve shares with extensions: the metrics registry (served on /metrics) and the credentials. */
export interface ExtensionContext {
  registry: Registry;
  auth: AuthConfig;
}

export interface RunningServe {
  server: RunningServer;
  /** Resolves when shutdown has finished. */
  shutdown(reason: string): Promise<void>;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
}

/** The serving TLS material from flags, or the self-signed one in DATA/tls/ (also for witness and mirror). */
export async function tlsMaterial(
  cfg: Pick<
    ServeConfig,
    "insecureHttp" | "clientCa" | "readClientCa" | "tlsCert" | "tlsKey" | "dataDir" | "kubeAuth"
  >,
  logger: Logger,
): Promise<TlsMaterial | undefined> {
  if (cfg.insecureHttp) {
    if (cfg.clientCa) throw new ConfigError("--client-ca needs TLS; drop --insecure-http");
    if (cfg.readClientCa) throw new ConfigError("--read-client-ca needs TLS; drop --insecure-http");
    if (cfg.kubeAuth?.clientCa) throw new ConfigError("--kube-client-ca needs TLS; drop --insecure-http");
    logger.warn("serving plain HTTP (--insecure-http): credentials and events travel unencrypted");
    return undefined;
  }
  const clientCa = cfg.clientCa ? await readPem(cfg.clientCa, "--client-ca") : undefined;
  const readClientCa = cfg.readClientCa ? await readPem(cfg.readClientCa, "--read-client-ca") : undefined;
  const kubeClientCa = cfg.kubeAuth?.clientCa
    ? await readPem(cfg.kubeAuth.clientCa, "--kube-client-ca")
    : undefined;
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined))
    throw new ConfigError("--tls-cert and --tls-key go together");
  if (cfg.tlsCert !== undefined && cfg.tlsKey !== undefined) {
    return {
      cert: await readPem(cfg.tlsCert, "--tls-cert"),
      key: await readPem(cfg.tlsKey, "--tls-key"),
      clientCa,
      readClientCa,
      kubeClientCa,
    };
  }
  const serving = await loadOrCreateServingCert(cfg.dataDir);
  if (serving.created)
    logger.info(
      { caFile: serving.caFile },
      "generated a self-signed serving certificate; clients should trust the CA file",
    );
  return { cert: serving.cert, key: serving.key, clientCa, readClientCa, kubeClientCa };
}

/** The CA fingerprints that grant each right, checked here so a bad bundle fails at start. */
function clientCaRights(tls: TlsMaterial | undefined): ClientCaRights | undefined {
  if (tls?.clientCa === undefined && tls?.readClientCa === undefined && tls?.kubeClientCa === undefined)
    return undefined;
  const of = (pem: string | undefined, flag: string): Set<string> => {
    if (pem === undefined) return new Set();
    let found: Set<string>;
    try {
      found = caFingerprints(pem);
    } catch (err) {
      throw new ConfigError(`${flag}: not a PEM certificate bundle: ${(err as Error).message}`);
    }
    if (found.size === 0) throw new ConfigError(`${flag}: no certificate in the file`);
    return found;
  };
  return {
    ingest: of(tls.clientCa, "--client-ca"),
    read: of(tls.readClientCa, "--read-client-ca"),
    kube: of(tls.kubeClientCa, "--kube-client-ca"),
  };
}

/** kubetrail's own connection to the apiserver for TokenReview and SubjectAccessReview. */
function kubeReviewer(k: KubeAuthConfig, logger: Logger): KubeReviewer {
  let ctx: KubeContext;
  try {
    ctx =
      k.kubeconfig === undefined
        ? inClusterContext()
        : loadKubeContext({ kubeconfig: k.kubeconfig, context: k.kubeContext });
  } catch (err) {
    if (err instanceof ClientError) throw new ConfigError(`--kube-auth: ${err.message}`);
    throw err;
  }
  logger.info(
    { apiserver: ctx.server, kubeClientCa: k.clientCa ?? null },
    "Kubernetes identities accepted on the read API (TokenReview, SubjectAccessReview on auditevents.kubetrail.dev)",
  );
  return new KubeReviewer({ client: () => kubeApiClient(ctx), ttlMs: k.cacheTtlMs });
}

async function authConfig(
  cfg: ServeConfig,
  tls: TlsMaterial | undefined,
  logger: Logger,
): Promise<AuthConfig> {
  let ingestTokens: string[] = [];
  if (cfg.tokenFile) ingestTokens = await readTokenFile(cfg.tokenFile);
  else if (!cfg.clientCa) {
    // Never open by default: without any ingest credential configured, generate one.
    const file = path.join(cfg.dataDir, "ingest-token");
    const { token, created } = await loadOrCreateToken(file);
    ingestTokens = [token];
    logger.info({ tokenFile: file }, created ? "generated an ingest token" : "using the ingest token");
  }
  let readTokens: string[];
  if (cfg.readTokenFile) readTokens = await readTokenFile(cfg.readTokenFile);
  else {
    const file = path.join(cfg.dataDir, "read-token");
    const { token, created } = await loadOrCreateToken(file);
    readTokens = [token];
    if (created) logger.info({ tokenFile: file }, "generated a read token");
  }
  const metricsTokens = cfg.metricsTokenFile ? await readTokenFile(cfg.metricsTokenFile) : [];
  if (metricsTokens.length > 0 && !cfg.metricsAuth)
    logger.warn("--metrics-token-file is set but /metrics is public: add --metrics-auth required");
  return {
    ingestTokens,
    readTokens,
    metricsTokens,
    metricsAuth: cfg.metricsAuth === true,
    clientCas: clientCaRights(tls),
    ...(cfg.kubeAuth === undefined ? {} : { kube: { reviewer: kubeReviewer(cfg.kubeAuth, logger) } }),
    ...(cfg.sessions === undefined ? {} : { extra: { read: [sessionAuthenticator(cfg.sessions)] } }),
  };
}

/** Follows the live audit log through the same pipeline as the webhook; returns its stop function. */
function startFollowing(
  file: string,
  stateDir: string,
  ingest: OpenIngest,
  metrics: ServerMetrics,
  logger: Logger,
): () => Promise<void> {
  const controller = new AbortController();
  let last = { stored: 0, duplicates: 0, conflicts: 0, dropped: 0, read: 0, rejectedCount: 0 };
  const done = followFile(file, ingest.pipeline, {
    stateDir: path.join(stateDir, "follow"),
    signal: controller.signal,
    onRepair: (message) => logger.warn({ file, repair: message }, "follow position rebuilt"),
    onProgress: (s, note) => {
      metrics.recordIngest("follow", {
        received: s.read - last.read,
        stored: s.stored - last.stored,
        duplicates: s.duplicates - last.duplicates,
        conflicts: s.conflicts - last.conflicts,
        dropped: s.dropped - last.dropped,
        storedBytes: 0,
      });
      if (s.rejectedCount > last.rejectedCount)
        metrics.rejected.inc({ reason: "follow_line" }, s.rejectedCount - last.rejectedCount);
      last = { ...s };
      if (note) logger.info({ file, note }, "following audit log");
    },
  }).catch((err: unknown) => {
    logger.error(
      { file, err: err instanceof Error ? err.message : String(err) },
      "following the audit log stopped",
    );
  });
  logger.info({ file }, "following audit log");
  return async () => {
    controller.abort();
    await done;
  };
}

/** `output`: where the logger writes, whose dropped lines /metrics counts. */
export async function runServe(
  cfg: ServeConfig,
  logger: Logger,
  extensions: ServeExtension[] = [],
  output?: Pick<LineOutput, "dropped">,
): Promise<RunningServe> {
  const tls = await tlsMaterial(cfg, logger);
  const auth = await authConfig(cfg, tls, logger);
  let ingest: OpenIngest | undefined;
  const openIngestOrThrow = (): OpenIngest => {
    if (ingest === undefined) throw new Error("ingest used before the log was open");
    return ingest;
  };
  let accepting = false;
  let checkpoint: CheckpointStatus | undefined;
  const metrics = createMetrics(
    () => checkpoint,
    () => output?.dropped ?? 0,
  );
  // Room for a couple of the largest bodies at once; beyond it senders get 429 and retry.
  const memoryBudget = new MemoryBudget(
    cfg.maxRequestMemory ?? Math.max(256 * 1024 * 1024, 2 * cfg.maxDecodedBodyBytes),
  );
  const routes: Route[] = [
    ...healthRoutes({
      ready: () => accepting,
      registry: metrics.registry,
      degraded: () => extensions.flatMap((e) => e.degraded?.() ?? []),
    }),
    ...webhookRoutes({
      receive: (body) => openIngestOrThrow().receiver.receive(body),
      ingest: async (batch) => {
        const opened = openIngestOrThrow();
        for (const ext of extensions) if (ext.beforeIngest) await ext.beforeIngest();
        const result = await opened.pipeline.ingestPrepared(batch);
        if (cfg.ackGate) await cfg.ackGate(opened.log);
        return result;
      },
      metrics,
      limits: { maxBytes: cfg.maxBodyBytes, maxDecodedBytes: cfg.maxDecodedBodyBytes, budget: memoryBudget },
      accepting: () => accepting,
      onUnexpected: (err) =>
        logger.error(
          { err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) },
          "webhook ingest failed",
        ),
    }),
  ];
  let server: RunningServer;
  try {
    // Listening before the log is open: /healthz answers and /readyz says "not ready" during recovery.
    server = await startServer(
      {
        routes,
        auth,
        logger,
        metrics,
        tls,
        requestTimeoutMs: cfg.requestTimeoutMs,
        handshakeTimeoutMs: cfg.handshakeTimeoutMs,
        connectionLimits: cfg.connectionLimits,
      },
      cfg.listen,
    );
  } catch (err) {
    throw new ConfigError(
      `cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  logger.info(
    { address: server.address, url: `${tls ? "https" : "http"}://${server.address}`, ed25519: ed25519.name },
    "listening",
  );
  const storage = cfg.storage ?? fsStorage(cfg.dataDir);
  try {
    ingest = await openIngest(storage, {
      ...cfg,
      memoryBudget,
      onRepair: (message) => logger.warn({ repair: message }, "repaired on open"),
      onCatchUp: catchUpLog(logger),
      onError: (err) =>
        logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          "background write failed (log integration or dedupe store); retried",
        ),
    });
  } catch (err) {
    await server.close(0);
    throw err;
  }
  const opened = ingest;
  const log = opened.log;
  const cp = log.latestCheckpoint();
  checkpoint = { size: cp.size, writtenAtMs: Date.now() };
  const unsubscribe = log.onIntegrated((c) => (checkpoint = { size: c.size, writtenAtMs: Date.now() }));
  const stops: (() => Promise<void>)[] = [];
  try {
    const ctx: ExtensionContext = { registry: metrics.registry, auth };
    for (const ext of extensions) {
      if (ext.routes) server.addRoutes(await ext.routes(opened, ctx));
      if (ext.start) stops.push(await ext.start(opened, ctx));
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop();
    await server.close(0);
    await opened.close();
    throw err;
  }
  if (cfg.followAuditLog)
    stops.push(startFollowing(cfg.followAuditLog, storage.stateDir, opened, metrics, logger));
  accepting = true;
  logger.info({ origin: log.origin, size: log.size() }, "ready");

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, "shutting down");
      accepting = false;
      // In-flight webhook requests finish (their appends complete or fail) before the log closes.
      await server.close(cfg.shutdownGraceMs);
      for (const stop of stops.reverse()) await stop();
      unsubscribe();
      await opened.close();
      logger.info("stopped");
    })();
    return shuttingDown;
  };
  return { server, shutdown };
}

/**
 * Logs the dedupe store catching up with the log (a new or rebuilt store over a long log can
 * take minutes before `serve` is ready): every few seconds, and when it is done.
 */
function catchUpLog(logger: Logger): CatchUpProgress {
  let loggedAt = 0;
  return (done, total) => {
    if (done < total && Date.now() - loggedAt < 5_000) return;
    loggedAt = Date.now();
    logger.info({ done, total }, "dedupe store catching up with the log");
  };
}
