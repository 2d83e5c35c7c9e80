// `kubetrail witness`: run a C2SP tlog-witness; `kubetrail witness key`: print its verifier key.
import type { Command } from "commander";
import { pino } from "pino";
import { ConfigError, parseListen } from "../server/config.js";
import { loadOrCreateCosignerKey } from "../witness/cosigner-key.js";
import { WitnessError } from "../witness/errors.js";
import { runWitness } from "../witness/run-witness.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { untilSignal } from "./signals.js";

interface WitnessFlags {
  data?: string;
  logs?: string;
  name?: string;
  listen: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
}

export function registerWitness(program: Command): void {
  const cmd = program
    .command("witness")
    .enablePositionalOptions()
    .description(
      "run a C2SP tlog-witness: cosign checkpoints of the logs in --logs after checking each is consistent with the last one cosigned",
    )
    // Not required options: commander would then demand them of `witness key` too.
    .option("--data <dir>", "the witness's data directory (its key, what it cosigned, evidence); required")
    .option(
      "--logs <file>",
      "YAML list of the logs to witness (reloaded when it changes and on SIGHUP); required",
    )
    .option(
      "--name <name>",
      "the witness's key name, fixed when its key is created (e.g. witness.example.com/w1)",
    )
    .option("--listen <addr>", "address to listen on, host:port", ":8444")
    .option("--tls-cert <file>", "serving certificate (PEM); default: a self-signed one in DIR/tls/")
    .option("--tls-key <file>", "private key of --tls-cert (PEM)")
    .option("--insecure-http", "serve plain HTTP (trials on loopback only)")
    .option("--log-level <level>", "log level: fatal, error, warn, info, debug", "info")
    .addHelpText(
      "after",
      "\nThe logs file:\n  logs:\n    - <verifier key of a log>            # its origin is the key's name\n    - origin: example.com/log\n      keys: [<key>, <key>]              # several during a key rotation\n",
    )
    .action(async (o: WitnessFlags) => {
      if (!o.data || !o.logs) throw new CliError("--data DIR and --logs FILE are required", 2);
      const logger = pino({ level: o.logLevel, base: { service: "kubetrail-witness" } });
      let running;
      try {
        running = await runWitness(
          {
            dataDir: o.data,
            logsFile: o.logs,
            name: o.name,
            listen: parseListen(o.listen, "--listen"),
            insecureHttp: o.insecureHttp === true,
            tlsCert: o.tlsCert,
            tlsKey: o.tlsKey,
          },
          logger,
        );
      } catch (err) {
        if (err instanceof ConfigError || (err instanceof WitnessError && err.code === "config"))
          throw new CliError(err.message, 2);
        throw err;
      }
      await untilSignal(running.shutdown, logger);
    });
  cmd
    .command("key")
    .description("print the witness's verifier key (cosignature/v1), creating its key on first use")
    .requiredOption("--data <dir>", "the witness's data directory")
    .option("--name <name>", "key name for a new witness")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; name?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const signer = await loadOrCreateCosignerKey(o.data, "witness", o.name);
      process.stdout.write(
        o.output === "json"
          ? JSON.stringify({ name: signer.name, verifierKey: signer.verifierKey }) + "\n"
          : signer.verifierKey + "\n",
      );
    });
}
