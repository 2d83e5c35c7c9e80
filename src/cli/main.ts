#!/usr/bin/env node
// The kubetrail command line. Each command lives in its own file and registers itself here.
import { Command } from "commander";
import { runProgram } from "./run-program.js";

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
  retention: async () => (await import("./retention.js")).registerRetention,
  erase: async () => (await import("./erase.js")).registerErase,
  status: async () => (await import("./status.js")).registerStatus,
  history: async () => (await import("./history.js")).registerHistory,
  export: async () => (await import("./export.js")).registerExport,
  "verify-bundle": async () => (await import("./verify-bundle.js")).registerVerifyBundle,
  rules: async () => (await import("./rules.js")).registerRules,
  policy: async () => (await import("./policy.js")).registerPolicy,
  redaction: async () => (await import("./redaction.js")).registerRedaction,
  witness: async () => (await import("./witness.js")).registerWitness,
  mirror: async () => (await import("./mirror.js")).registerMirror,
  restore: async () => (await import("./restore.js")).registerRestore,
  proof: async () => (await import("./proof.js")).registerProof,
  config: async () => (await import("./config.js")).registerConfig,
  guard: async () => (await import("./guard.js")).registerGuard,
};

const program = new Command("kubetrail")
  .description("Tamper-evident audit trail for Kubernetes")
  .version("0.1.0")
  .showHelpAfterError()
  // Options after a command are that command's (witness and mirror have subcommands of their own).
  .enablePositionalOptions()
  .exitOverride();

const wanted = process.argv.slice(2).find((a) => !a.startsWith("-"));
const load = wanted !== undefined && wanted in COMMANDS ? [COMMANDS[wanted]!] : Object.values(COMMANDS);
for (const register of await Promise.all(load.map((l) => l()))) register(program);

await runProgram(program, "kubetrail");
