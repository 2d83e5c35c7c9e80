#!/usr/bin/env node
// The kubetrail command line. Each command lives in its own file and registers itself here.
import { Command, CommanderError } from "commander";
import { CliError } from "./errors.js";

type Register = (program: Command) => void;

// Each command's module is loaded only when that command runs: `serve` pulls in the HTTP
// server and the detector, and a one-off `query` should not pay for them at start-up.
const COMMANDS: Record<string, () => Promise<Register>> = {
  keys: async () => (await import("./keys.js")).registerKeys,
  append: async () => (await import("./append.js")).registerAppend,
  verify: async () => (await import("./verify.js")).registerVerify,
  serve: async () => (await import("./serve.js")).registerServe,
  import: async () => (await import("./import.js")).registerImport,
  "apiserver-config": async () => (await import("./apiserver-config.js")).registerApiserverConfig,
  query: async () => (await import("./query.js")).registerQuery,
  top: async () => (await import("./top.js")).registerTop,
  reindex: async () => (await import("./reindex.js")).registerReindex,
  compact: async () => (await import("./compact.js")).registerCompact,
  history: async () => (await import("./history.js")).registerHistory,
  export: async () => (await import("./export.js")).registerExport,
  "verify-bundle": async () => (await import("./verify-bundle.js")).registerVerifyBundle,
  rules: async () => (await import("./rules.js")).registerRules,
  policy: async () => (await import("./policy.js")).registerPolicy,
  redaction: async () => (await import("./redaction.js")).registerRedaction,
};

const program = new Command("kubetrail")
  .description("Tamper-evident audit trail for Kubernetes")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

const wanted = process.argv.slice(2).find((a) => !a.startsWith("-"));
const load = wanted !== undefined && wanted in COMMANDS ? [COMMANDS[wanted]!] : Object.values(COMMANDS);
for (const register of await Promise.all(load.map((l) => l()))) register(program);

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
