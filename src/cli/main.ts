#!/usr/bin/env node
// The kubetrail command line. Each command lives in its own file and registers itself here.
import { Command, CommanderError } from "commander";
import { registerKeys } from "./keys.js";
import { registerAppend } from "./append.js";
import { registerVerify } from "./verify.js";
import { registerQuery } from "./query.js";
import { registerTop } from "./top.js";
import { registerReindex } from "./reindex.js";
import { registerHistory } from "./history.js";
import { registerExport } from "./export.js";
import { registerVerifyBundle } from "./verify-bundle.js";
import { registerRules } from "./rules.js";
import { registerServe } from "./serve.js";
import { registerImport } from "./import.js";
import { registerApiserverConfig } from "./apiserver-config.js";
import { registerPolicy } from "./policy.js";
import { registerRedaction } from "./redaction.js";
import { CliError } from "./errors.js";

const program = new Command("kubetrail")
  .description("Tamper-evident audit trail for Kubernetes")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

registerKeys(program);
registerAppend(program);
registerVerify(program);
registerServe(program);
registerImport(program);
registerApiserverConfig(program);
registerQuery(program);
registerTop(program);
registerReindex(program);
registerHistory(program);
registerExport(program);
registerVerifyBundle(program);
registerRules(program);
registerPolicy(program);
registerRedaction(program);

// `kubetrail query … | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof CliError) {
    process.stderr.write(`kubetrail: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    process.stderr.write(`kubetrail: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
