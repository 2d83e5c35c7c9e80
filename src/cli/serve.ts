// `kubetrail serve`: the webhook receiver, health and metrics, over the fs log in --data.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import type { Logger } from "pino";
import { createSinks, readRulesConfig } from "../detect/index.js";
import type { StdoutTarget } from "../detect/sinks/stdout.js";
import { loadPolicies } from "../guard/policy/load.js";
import { GuardError } from "../guard/types.js";
import { applyConfigFile, ConfigError, parseDuration, parseListen, parseSize } from "../server/config.js";
import { DEFAULT_CONNECTION_LIMITS } from "../server/connection-guard.js";
import { detectServeExtension } from "../server/detect-extension.js";
import { guardServeExtension, type GuardExtension } from "../server/guard-extension.js";
import { createLogger, resolveLogFormat, stdoutLines } from "../server/log-output.js";
import { DEFAULT_INDEX_MAX_LAG_MS } from "../index/lag-gate.js";
import { queryServeExtension } from "../server/routes/query.js";
import { statusServeExtension } from "../server/routes/status.js";
import { runServe, type ServeConfig, type ServeExtension } from "../server/run-serve.js";
import { SessionStore } from "../server/session.js";
import { uiServeExtension } from "../server/ui-extension.js";
import { setUpCosigning } from "../publish/serve-cosigning.js";
import { rotationServeExtension } from "../keys/rotation-request.js";
import { retentionServeExtension } from "../retention/serve-extension.js";
import { fsStorage } from "../store/fs/storage.js";
import { defaultActor, readRetentionPolicy } from "./retention.js";
import { CliError } from "./errors.js";
import { commaList } from "./list-options.js";

interface ServeFlags {
  data?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  clientCa?: string;
  readClientCa?: string;
  tokenFile?: string;
  readTokenFile?: string;
  metricsAuth: string;
  metricsTokenFile?: string;
  maxBody: string;
  maxDecodedBody: string;
  requestTimeout: string;
  tlsHandshakeTimeout: string;
  maxUnauthenticatedConnections: string;
  maxUnauthenticatedPerAddress: string;
  shutdownGrace: string;
  integrateInterval: string;
  indexMaxLag: string;
  policy?: string;
  redactionRules?: string;
  secretDetectors?: string;
  maxItems: string;
  maxRequestMemory: string;
  logLevel: string;
  logFormat: string;
  followAuditLog?: string;
  rulesConfig?: string;
  rulesDir?: string;
  detect: boolean;
  guardPolicies?: string;
  guardBuiltins: boolean;
  ui: boolean;
  uiStatsRows: string;
  config?: string;
  cosigners?: string;
  kubeAuth?: boolean;
  kubeconfig?: string;
  kubeContext?: string;
  kubeClientCa?: string;
  kubeAuthCacheTtl: string;
  retentionPolicy?: string;
  retentionInterval: string;
  retentionThin?: boolean;
}

/**
 * Where `npm run build` puts the web UI: dist/web beside this file's dist/cli; the benches'
 * compiled copy of the CLI (build/src/cli) uses the same dist/web.
 */
const UI_ASSETS =
  [new URL("../web/", import.meta.url), new URL("../../../dist/web/", import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((dir) => existsSync(`${dir}index.html`)) ?? fileURLToPath(new URL("../web/", import.meta.url));

/** Every setting can also come from KUBETRAIL_<FLAG> and from the --config file. */
function opt(flags: string, description: string, defaultValue?: string): Option {
  const long = /--([a-z-]+)/.exec(flags)![1]!;
  const o = new Option(flags, description).env(`KUBETRAIL_${long.toUpperCase().replace(/-/g, "_")}`);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

function toConfig(f: ServeFlags): ServeConfig {
  if (!f.data) throw new ConfigError("--data DIR is required (or KUBETRAIL_DATA, or data: in --config)");
  if (f.retentionThin && f.retentionPolicy === undefined)
    throw new ConfigError("--retention-thin applies the policy of --retention-policy FILE, which is missing");
  const maxBodyBytes = parseSize(f.maxBody, "--max-body");
  return {
    dataDir: f.data,
    listen: parseListen(f.listen, "--listen"),
    insecureHttp: f.insecureHttp === true,
    tlsCert: f.tlsCert,
    tlsKey: f.tlsKey,
    clientCa: f.clientCa,
    readClientCa: f.readClientCa,
    tokenFile: f.tokenFile,
    readTokenFile: f.readTokenFile,
    metricsAuth: parseMetricsAuth(f.metricsAuth),
    metricsTokenFile: f.metricsTokenFile,
    maxBodyBytes,
    maxDecodedBodyBytes: Math.max(maxBodyBytes, parseSize(f.maxDecodedBody, "--max-decoded-body")),
    requestTimeoutMs: parseDuration(f.requestTimeout, "--request-timeout"),
    handshakeTimeoutMs: parseDuration(f.tlsHandshakeTimeout, "--tls-handshake-timeout"),
    connectionLimits: {
      maxUnauthenticated: parseCount(f.maxUnauthenticatedConnections, "--max-unauthenticated-connections"),
      maxUnauthenticatedPerAddress: parseCount(
        f.maxUnauthenticatedPerAddress,
        "--max-unauthenticated-per-address",
      ),
    },
    shutdownGraceMs: parseDuration(f.shutdownGrace, "--shutdown-grace"),
    integrateIntervalMs: parseDuration(f.integrateInterval, "--integrate-interval"),
    policyFile: f.policy,
    redactionRulesFile: f.redactionRules,
    secretDetectorsFile: f.secretDetectors,
    maxItems: parseCount(f.maxItems, "--max-items"),
    maxRequestMemory: parseSize(f.maxRequestMemory, "--max-request-memory"),
    maxParseBytes: parseSize(f.maxRequestMemory, "--max-request-memory"),
    followAuditLog: f.followAuditLog,
    ...(f.kubeAuth || f.kubeconfig !== undefined || f.kubeClientCa !== undefined
      ? {
          kubeAuth: {
            kubeconfig: f.kubeconfig,
            kubeContext: f.kubeContext,
            clientCa: f.kubeClientCa,
            cacheTtlMs: parseDuration(f.kubeAuthCacheTtl, "--kube-auth-cache-ttl"),
          },
        }
      : {}),
  };
}

function parseCount(text: string, where: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || !Number.isSafeInteger(n))
    throw new ConfigError(`${where}: ${JSON.stringify(text)} is not a positive whole number`);
  return n;
}

function parseMetricsAuth(text: string): boolean {
  if (text === "none") return false;
  if (text === "required") return true;
  throw new ConfigError(`--metrics-auth: ${JSON.stringify(text)} is not one of none, required`);
}

export function registerServe(program: Command): void {
  const cmd = program
    .command("serve")
    .description(
      "Receive audit events from the kube-apiserver's webhook backend (POST /v1/audit/webhook) into the log in --data. " +
        "Settings: flag > KUBETRAIL_<FLAG> environment variable > --config file > default.",
    )
    .addOption(opt("--data <dir>", "data directory of the log (created on first start)"))
    .addOption(opt("--listen <addr>", "address to listen on, host:port", ":8443"))
    .addOption(
      opt(
        "--tls-cert <file>",
        "serving certificate (PEM); default: a self-signed one generated into DIR/tls/",
      ),
    )
    .addOption(opt("--tls-key <file>", "private key of --tls-cert (PEM)"))
    .addOption(opt("--insecure-http", "serve plain HTTP instead of HTTPS (local trials only)"))
    .addOption(
      opt(
        "--client-ca <file>",
        "CA bundle (PEM); clients with a certificate from it may post events (mutual TLS)",
      ),
    )
    .addOption(
      opt(
        "--read-client-ca <file>",
        "CA bundle (PEM); clients with a certificate from it may read the whole log (queries, proofs, entry bundles, metrics)",
      ),
    )
    .addOption(
      opt(
        "--token-file <file>",
        "ingest bearer tokens, one per line; default without --client-ca: DIR/ingest-token, generated",
      ),
    )
    .addOption(
      opt(
        "--read-token-file <file>",
        "read bearer tokens (queries, proofs, entry bundles, metrics), one per line; default: DIR/read-token, generated",
      ),
    )
    .addOption(
      opt(
        "--metrics-auth <mode>",
        "none: /metrics is public; required: it needs a read credential or a --metrics-token-file token",
        "none",
      ),
    )
    .addOption(
      opt(
        "--metrics-token-file <file>",
        "bearer tokens that may scrape /metrics and nothing else, one per line",
      ),
    )
    .addOption(
      opt(
        "--kube-auth",
        "accept Kubernetes identities on the read API: bearer tokens checked with TokenReview, RBAC on " +
          "auditevents.kubetrail.dev decided by SubjectAccessReview (kubetrail's own credentials: in-cluster, or --kubeconfig)",
      ),
    )
    .addOption(
      opt(
        "--kubeconfig <file>",
        "kubeconfig kubetrail uses for TokenReview/SubjectAccessReview (implies --kube-auth)",
      ),
    )
    .addOption(opt("--kube-context <name>", "context of --kubeconfig (default: its current context)"))
    .addOption(
      opt(
        "--kube-client-ca <file>",
        "the cluster's client CA (PEM): its certificates are users (CN) and groups (O), authorized by RBAC (implies --kube-auth)",
      ),
    )
    .addOption(
      opt(
        "--kube-auth-cache-ttl <duration>",
        "how long accepted tokens and allowed decisions are reused",
        "60s",
      ),
    )
    .addOption(opt("--max-body <size>", "largest request body accepted, as sent (413 beyond)", "32Mi"))
    .addOption(
      opt("--max-decoded-body <size>", "largest gzip request body after decompression (413 beyond)", "128Mi"),
    )
    .addOption(
      opt("--request-timeout <duration>", "a request (headers and body) must arrive within this time", "60s"),
    )
    .addOption(
      opt("--tls-handshake-timeout <duration>", "a TLS handshake must complete within this time", "10s"),
    )
    .addOption(
      opt(
        "--max-unauthenticated-connections <n>",
        "connections held before a request shows a credential; beyond it the oldest of the busiest source address is closed",
        String(DEFAULT_CONNECTION_LIMITS.maxUnauthenticated),
      ),
    )
    .addOption(
      opt(
        "--max-unauthenticated-per-address <n>",
        "of those, from one source address; beyond it new ones are closed at once",
        String(DEFAULT_CONNECTION_LIMITS.maxUnauthenticatedPerAddress),
      ),
    )
    .addOption(
      opt("--shutdown-grace <duration>", "on SIGTERM, how long in-flight requests may take to finish", "25s"),
    )
    .addOption(
      opt("--integrate-interval <duration>", "how often a new signed checkpoint covers new entries", "1s"),
    )
    .addOption(
      opt(
        "--index-max-lag <duration>",
        "while the query index is further behind what ingest acknowledged than this (beyond --integrate-interval), each webhook batch waits for it (at most 2s) before it is stored; 0: never (docs/operations.md)",
        `${DEFAULT_INDEX_MAX_LAG_MS / 1000}s`,
      ),
    )
    .addOption(opt("--policy <file>", "audit Policy YAML applied at ingest (levels, omitStages)"))
    .addOption(opt("--redaction-rules <file>", "extra redaction rules (YAML); built-in rules always apply"))
    .addOption(
      opt(
        "--secret-detectors <file>",
        "extra credential detectors (YAML, docs/secrets.md); built-in detectors always apply",
      ),
    )
    .addOption(opt("--max-items <n>", "most items in one webhook EventList (413 beyond)", "10000"))
    .addOption(
      opt(
        "--max-request-memory <size>",
        "memory webhook bodies may hold at once while read and parsed (429 beyond); also the most one body may take to parse (413 beyond)",
        "256Mi",
      ),
    )
    .addOption(
      opt(
        "--follow-audit-log <file>",
        "also follow the apiserver's live audit log file (position kept in DIR/follow/)",
      ),
    )
    .addOption(
      opt(
        "--rules-config <file>",
        "detection settings and alert sinks (YAML); default: built-in rules, alerts to stdout",
      ),
    )
    .addOption(opt("--rules-dir <dirs>", "directories of Sigma rules, comma-separated"))
    .addOption(new Option("--no-detect", "do not run the detector").env("KUBETRAIL_NO_DETECT"))
    .addOption(
      opt(
        "--cosigners <file>",
        "witnesses (and mirrors) that cosign each checkpoint, the quorum and fail-open/closed (YAML; see docs/witnesses.md)",
      ),
    )
    .addOption(
      opt(
        "--guard-policies <paths>",
        "admission policies for POST /v1/admission/validate: GuardPolicy and ValidatingAdmissionPolicy files or directories, comma-separated (SIGHUP reloads)",
      ),
    )
    .addOption(
      new Option(
        "--no-guard-builtins",
        "do not add the built-in admission policies (otherwise on, in audit mode)",
      ).env("KUBETRAIL_NO_GUARD_BUILTINS"),
    )
    .addOption(new Option("--no-ui", "do not serve the web UI under /ui/").env("KUBETRAIL_NO_UI"))
    .addOption(
      opt(
        "--ui-stats-rows <count>",
        "log entries the UI's timeline counts keep in memory, about 44 bytes each (older ones are dropped)",
        "4000000",
      ),
    )
    .addOption(opt("--log-level <level>", "log level: fatal, error, warn, info, debug", "info"))
    .addOption(
      opt(
        "--log-format <format>",
        "auto: readable lines on a terminal, JSON lines otherwise; json; text",
        "auto",
      ),
    )
    .addOption(
      opt(
        "--retention-policy <file>",
        "apply this kubetrail.dev/v1 RetentionPolicy at start and every --retention-interval (see kubetrail retention run)",
      ),
    )
    .addOption(opt("--retention-interval <duration>", "how often the retention policy is applied", "1h"))
    .addOption(
      opt(
        "--retention-thin",
        "also remove each entry past the retention policy from the bundles it keeps (retention run --thin), looking only at what expired since the last run",
      ),
    )
    .addOption(
      // Not KUBETRAIL_CONFIG: that names the client config of the read commands (kubetrail config).
      new Option("--config <file>", "YAML file of settings, keyed by flag name (e.g. max-body: 64Mi)").env(
        "KUBETRAIL_SERVE_CONFIG",
      ),
    )
    .action(async () => {
      const flags = cmd.opts<ServeFlags>();
      let cfg: ServeConfig;
      try {
        if (flags.config) applyConfigFile(cmd, flags.config);
        cfg = toConfig(cmd.opts<ServeFlags>());
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2, { cause: err });
        throw err;
      }
      const output = stdoutLines();
      let logger;
      try {
        const format = resolveLogFormat(cmd.opts<ServeFlags>().logFormat, process.stdout.isTTY === true);
        logger = createLogger({ level: cmd.opts<ServeFlags>().logLevel, format, output });
      } catch (err) {
        throw new CliError((err as Error).message, 2);
      }
      let running;
      let guard: Awaited<ReturnType<typeof guardExtension>>;
      try {
        const onIndexError = (err: unknown) =>
          logger.error({ err: err instanceof Error ? err.message : String(err) }, "index feeder failed");
        const resolved = cmd.opts<ServeFlags>();
        const storage = (cfg.storage ??= fsStorage(cfg.dataDir));
        const cosigning = resolved.cosigners
          ? await setUpCosigning(storage, resolved.cosigners, logger)
          : undefined;
        if (cosigning) {
          cfg.cosign = cosigning.cosign;
          cfg.ackGate = cosigning.ackGate;
        }
        guard = await guardExtension(cfg.dataDir, resolved, logger, output);
        const query = queryServeExtension(
          storage.stateDir,
          {
            onError: onIndexError,
            maxLagMs: parseDuration(resolved.indexMaxLag, "--index-max-lag"),
            onRebuild: (reason) =>
              logger.warn(
                { reason },
                "query index damaged or missing: rebuilding it from the log; queries answer 503 meanwhile",
              ),
          },
          cosigning?.published,
        );
        const extensions: ServeExtension[] = [query, guard.extension];
        if (cosigning) extensions.push(cosigning.extension);
        extensions.push(rotationServeExtension(cfg.dataDir, logger));
        if (resolved.ui) {
          const statsRows = Number(resolved.uiStatsRows);
          if (!Number.isSafeInteger(statsRows) || statsRows < 1024)
            throw new ConfigError(
              `--ui-stats-rows: "${resolved.uiStatsRows}" is not a whole number of at least 1024`,
            );
          cfg.sessions = new SessionStore();
          extensions.push(
            uiServeExtension({
              storage,
              assetsDir: UI_ASSETS,
              sessions: cfg.sessions,
              index: query.indexer,
              statsRows,
              logger,
            }),
          );
        }
        let detect: ReturnType<typeof detectServeExtension> | undefined;
        if (resolved.detect) {
          const rulesDirs = (resolved.rulesDir ?? "").split(",").filter((d) => d.trim() !== "");
          detect = detectServeExtension({
            stateDir: storage.stateDir,
            rulesConfig: resolved.rulesConfig,
            rulesDirs,
            logger,
            stdout: output,
          });
          extensions.push(detect);
        }
        extensions.push(
          statusServeExtension({
            stateDir: storage.stateDir,
            indexer: query.indexer,
            ...(detect ? { detectorPosition: detect.position } : {}),
          }),
        );
        if (resolved.retentionPolicy !== undefined)
          extensions.push(
            retentionServeExtension({
              policy: readRetentionPolicy(resolved.retentionPolicy),
              intervalMs: parseDuration(resolved.retentionInterval, "--retention-interval"),
              thin: resolved.retentionThin === true,
              by: `kubetrail serve (${defaultActor()})`,
              logger,
              indexer: () => query.running(),
              ...(cosigning?.retentionHold ? { hold: cosigning.retentionHold } : {}),
            }),
          );
        running = await runServe(cfg, logger, extensions, output);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2, { cause: err });
        throw err;
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          running.shutdown(signal).then(resolve, (err: unknown) => {
            logger.error({ err: err instanceof Error ? err.message : String(err) }, "shutdown failed");
            process.exitCode = 1;
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        const reload = (): void => guard.reload();
        process.on("SIGHUP", reload);
      });
    });
}

/**
 * The admission webhook's extension. Policies are loaded here, before anything is opened, so
 * a policy kubetrail cannot evaluate stops serve with the reason instead of being skipped.
 */
async function guardExtension(
  dataDir: string,
  flags: ServeFlags,
  logger: Logger,
  stdout: StdoutTarget,
): Promise<{ extension: GuardExtension; reload(): void }> {
  const policyPaths = commaList(flags.guardPolicies);
  let initial;
  try {
    initial = loadPolicies(policyPaths, { builtins: flags.guardBuiltins });
  } catch (err) {
    if (err instanceof GuardError) throw new ConfigError(`--guard-policies: ${err.message}`);
    throw err;
  }
  const rulesConfig = flags.rulesConfig ? await readRulesConfig(flags.rulesConfig) : undefined;
  const extension = guardServeExtension({
    dataDir,
    policyPaths,
    builtins: flags.guardBuiltins,
    initial,
    // Alerts on stdout go through serve's line output, as the detector's do: collected and
    // written together, and never an error that stops serve (a full disk, a closed pipe).
    sinks: await createSinks(rulesConfig?.sinks ?? [{ type: "stdout" }], { stdout }),
    logger,
  });
  return {
    extension,
    reload() {
      try {
        const set = extension.reload();
        logger.info({ policies: set.policies.length }, "guard policies reloaded");
        for (const w of set.warnings) logger.warn({ policy: w }, "guard policy warning");
      } catch (err) {
        logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          "guard policies not reloaded; the previous ones stay in force",
        );
      }
    },
  };
}
