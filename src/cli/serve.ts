// `kubetrail serve`: the webhook receiver, health and metrics, over the fs log in --data.
import { Command, Option } from "commander";
import { pino } from "pino";
import { applyConfigFile, ConfigError, parseDuration, parseListen, parseSize } from "../server/config.js";
import { detectServeExtension } from "../server/detect-extension.js";
import { queryServeExtension } from "../server/routes/query.js";
import { runServe, type ServeConfig } from "../server/run-serve.js";
import { setUpCosigning } from "../publish/serve-cosigning.js";
import { CliError } from "./errors.js";

interface ServeFlags {
  data?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
  clientCa?: string;
  tokenFile?: string;
  readTokenFile?: string;
  maxBody: string;
  maxDecodedBody: string;
  requestTimeout: string;
  shutdownGrace: string;
  integrateInterval: string;
  policy?: string;
  redactionRules?: string;
  logLevel: string;
  followAuditLog?: string;
  rulesConfig?: string;
  rulesDir?: string;
  detect: boolean;
  config?: string;
  cosigners?: string;
}

/** Every setting can also come from KUBETRAIL_<FLAG> and from the --config file. */
function opt(flags: string, description: string, defaultValue?: string): Option {
  const long = /--([a-z-]+)/.exec(flags)![1]!;
  const o = new Option(flags, description).env(`KUBETRAIL_${long.toUpperCase().replace(/-/g, "_")}`);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

function toConfig(f: ServeFlags): ServeConfig {
  if (!f.data) throw new ConfigError("--data DIR is required (or KUBETRAIL_DATA, or data: in --config)");
  const maxBodyBytes = parseSize(f.maxBody, "--max-body");
  return {
    dataDir: f.data,
    listen: parseListen(f.listen, "--listen"),
    insecureHttp: f.insecureHttp === true,
    tlsCert: f.tlsCert,
    tlsKey: f.tlsKey,
    clientCa: f.clientCa,
    tokenFile: f.tokenFile,
    readTokenFile: f.readTokenFile,
    maxBodyBytes,
    maxDecodedBodyBytes: Math.max(maxBodyBytes, parseSize(f.maxDecodedBody, "--max-decoded-body")),
    requestTimeoutMs: parseDuration(f.requestTimeout, "--request-timeout"),
    shutdownGraceMs: parseDuration(f.shutdownGrace, "--shutdown-grace"),
    integrateIntervalMs: parseDuration(f.integrateInterval, "--integrate-interval"),
    policyFile: f.policy,
    redactionRulesFile: f.redactionRules,
    followAuditLog: f.followAuditLog,
  };
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
        "--token-file <file>",
        "ingest bearer tokens, one per line; default without --client-ca: DIR/ingest-token, generated",
      ),
    )
    .addOption(
      opt(
        "--read-token-file <file>",
        "read bearer tokens (query, proofs), one per line; default: DIR/read-token, generated",
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
      opt("--shutdown-grace <duration>", "on SIGTERM, how long in-flight requests may take to finish", "25s"),
    )
    .addOption(
      opt("--integrate-interval <duration>", "how often a new signed checkpoint covers new entries", "1s"),
    )
    .addOption(opt("--policy <file>", "audit Policy YAML applied at ingest (levels, omitStages)"))
    .addOption(opt("--redaction-rules <file>", "extra redaction rules (YAML); built-in rules always apply"))
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
    .addOption(opt("--log-level <level>", "log level: fatal, error, warn, info, debug", "info"))
    .addOption(
      new Option("--config <file>", "YAML file of settings, keyed by flag name (e.g. max-body: 64Mi)").env(
        "KUBETRAIL_CONFIG",
      ),
    )
    .action(async () => {
      const flags = cmd.opts<ServeFlags>();
      let cfg: ServeConfig;
      try {
        if (flags.config) applyConfigFile(cmd, flags.config);
        cfg = toConfig(cmd.opts<ServeFlags>());
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const logger = pino({ level: cmd.opts<ServeFlags>().logLevel, base: { service: "kubetrail" } });
      let running;
      try {
        const onIndexError = (err: unknown) =>
          logger.error({ err: err instanceof Error ? err.message : String(err) }, "index feeder failed");
        const resolved = cmd.opts<ServeFlags>();
        const cosigning = resolved.cosigners
          ? await setUpCosigning(cfg.dataDir, resolved.cosigners, logger)
          : undefined;
        if (cosigning) {
          cfg.cosign = cosigning.cosign;
          cfg.ackGate = cosigning.ackGate;
        }
        const extensions = [queryServeExtension(cfg.dataDir, onIndexError, cosigning?.published)];
        if (cosigning) extensions.push(cosigning.extension);
        if (resolved.detect) {
          const rulesDirs = (resolved.rulesDir ?? "").split(",").filter((d) => d.trim() !== "");
          extensions.push(
            detectServeExtension({
              dataDir: cfg.dataDir,
              rulesConfig: resolved.rulesConfig,
              rulesDirs,
              logger,
            }),
          );
        }
        running = await runServe(cfg, logger, extensions);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
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
      });
    });
}
