// Flags and the `key` subcommand shared by `kubetrail witness` and `kubetrail mirror`.
import type { Command } from "commander";
import type { Logger } from "pino";
import { ConfigError, parseListen } from "../server/config.js";
import { createLogger, stdoutLines } from "../server/log-output.js";
import { loadOrCreateCosignerKey } from "../witness/cosigner-key.js";
import type { CosignerConfig } from "../witness/cosigner-base.js";
import { WitnessError } from "../witness/errors.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { untilSignal } from "./signals.js";

export interface CosignerFlags {
  data?: string;
  logs?: string;
  name?: string;
  listen: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  rulesConfig?: string;
  logLevel: string;
}

/** The flags of a cosigner server; `--data` is checked in the action (see cosignerConfig). */
export function addCosignerOptions(cmd: Command, role: "witness" | "mirror", port: number): Command {
  return (
    cmd
      // Positional: options after `key` are the subcommand's own.
      .enablePositionalOptions()
      // Not required options: commander would then demand them of `… key` too.
      .option("--data <dir>", `the ${role}'s data directory (its key, state, evidence); required`)
      .option("--logs <file>", "YAML list of the logs served (reloaded when it changes and on SIGHUP)")
      .option(
        "--name <name>",
        `the ${role}'s key name, fixed when its key is created (e.g. ${role}.example.com/1)`,
      )
      .option("--listen <addr>", "address to listen on, host:port", `:${port}`)
      .option("--tls-cert <file>", "serving certificate (PEM); default: a self-signed one in DIR/tls/")
      .option("--tls-key <file>", "private key of --tls-cert (PEM)")
      .option("--insecure-http", "serve plain HTTP (trials on loopback only)")
      .option(
        "--rules-config <file>",
        "alert sinks for split-view alerts (the `sinks:` of a detection rules config)",
      )
      .option("--log-level <level>", "log level: fatal, error, warn, info, debug", "info")
  );
}

export function cosignerConfig(o: CosignerFlags): CosignerConfig {
  if (!o.data) throw new CliError("--data DIR is required", 2);
  return {
    dataDir: o.data,
    ...(o.logs ? { logsFile: o.logs } : {}),
    name: o.name,
    listen: parseListen(o.listen, "--listen"),
    insecureHttp: o.insecureHttp === true,
    tlsCert: o.tlsCert,
    tlsKey: o.tlsKey,
    rulesConfig: o.rulesConfig,
  };
}

/**
 * The witness's or mirror's logger: JSON lines on stdout, as serve writes them (see stdoutLines;
 * a full disk or a closed pipe drops lines, never stops the server).
 */
export function cosignerLogger(role: string, level: string): Logger {
  return createLogger({
    level,
    format: "json",
    output: stdoutLines(),
    service: `kubetrail-${role}`,
  });
}

/** Starts a cosigner server, turning configuration mistakes into usage errors, and runs it until a signal. */
export async function runUntilSignal(
  start: () => Promise<{ shutdown(): Promise<void> }>,
  logger: Logger,
): Promise<void> {
  let running;
  try {
    running = await start();
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof WitnessError && err.code === "config"))
      throw new CliError(err.message, 2);
    throw err;
  }
  await untilSignal(() => running.shutdown(), logger);
}

/** `… key`: prints the cosigner's verifier key, creating its key on first use. */
export function addKeySubcommand(cmd: Command, role: "witness" | "mirror"): void {
  cmd
    .command("key")
    .description(`print the ${role}'s verifier key (cosignature/v1), creating its key on first use`)
    .requiredOption("--data <dir>", `the ${role}'s data directory`)
    .option("--name <name>", `key name for a new ${role}`)
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; name?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const { signer } = await loadOrCreateCosignerKey(o.data, role, o.name);
      process.stdout.write(
        o.output === "json"
          ? JSON.stringify({ name: signer.name, verifierKey: signer.verifierKey }) + "\n"
          : signer.verifierKey + "\n",
      );
    });
}
