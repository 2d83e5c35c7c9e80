#!/usr/bin/env node
// The kubetrail command line. Each command lives in its own file and registers itself here.
import { Command, CommanderError } from "commander";
import { registerKeys } from "./keys.js";
import { registerAppend } from "./append.js";
import { registerVerify } from "./verify.js";
import { registerQuery } from "./query.js";
import { registerTop } from "./top.js";
import { registerReindex } from "./reindex.js";
import { registerRules } from "./rules.js";
import { registerServe } from "./serve.js";
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
registerQuery(program);
registerTop(program);
registerReindex(program);
registerRules(program);

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
