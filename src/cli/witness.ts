// `kubetrail witness`: run a C2SP tlog-witness; `kubetrail witness key`: print its verifier key.
import type { Command } from "commander";
import { runWitness } from "../witness/run-witness.js";
import {
  addCosignerOptions,
  addKeySubcommand,
  cosignerConfig,
  cosignerLogger,
  runUntilSignal,
  type CosignerFlags,
} from "./cosigner-options.js";
import { CliError } from "./errors.js";

export function registerWitness(program: Command): void {
  const cmd = program
    .command("witness")
    .description(
      "run a C2SP tlog-witness: cosign checkpoints of the logs in --logs after checking each is consistent with the last one cosigned",
    );
  addCosignerOptions(cmd, "witness", 8444)
    .addHelpText(
      "after",
      "\nThe logs file:\n  logs:\n    - <verifier key of a log>            # its origin is the key's name\n    - origin: example.com/log\n      keys: [<key>, <key>]              # several during a key rotation\n",
    )
    .action(async (o: CosignerFlags) => {
      if (!o.logs) throw new CliError("--logs FILE is required", 2);
      const cfg = cosignerConfig(o);
      const logger = cosignerLogger("witness", o.logLevel);
      await runUntilSignal(() => runWitness(cfg, logger), logger);
    });
  addKeySubcommand(cmd, "witness");
}
