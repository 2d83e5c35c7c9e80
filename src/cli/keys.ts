// `kubetrail keys`: prints the verifier key auditors pin — of the log in --data (creating the
// signing key on first use), or the key a server states, checked against a pinned one.
import type { Command } from "commander";
import { apiClient } from "../client/connect.js";
import { remoteSource } from "../client/remote-source.js";
import { loadOrCreateSigningKey } from "../store/fs/keys.js";
import { CliError } from "./errors.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";
import { addSourceOptions, remoteSettings, sourceKind, type SourceFlags } from "./output/source-options.js";

export function registerKeys(program: Command): void {
  const cmd = program
    .command("keys")
    .description("print the log's verifier key (name+hash+base64), creating the signing key on first use")
    .option("--origin <origin>", "origin line for a new log (default: unique per installation)")
    .option("-o, --output <format>", "text or json", "text");
  addSourceOptions(cmd).action(async (o: SourceFlags & { origin?: string; output: string }) => {
    checkOutput(o.output, ["text", "json"]);
    let keys: { origin: string; verifierKey: string };
    if (sourceKind(o) === "local") {
      keys = await loadOrCreateSigningKey(o.data as string, o.origin);
    } else {
      if (o.origin !== undefined) throw new CliError("--origin: only with --data, for a new log", USAGE_EXIT);
      const settings = remoteSettings(o);
      if (settings === undefined)
        throw new CliError(
          "give --data DIR or --server URL (or a context of `kubetrail config`)",
          USAGE_EXIT,
        );
      // The key is what is being asked, so none need be pinned; a pinned one must match.
      const source = remoteSource({ api: apiClient(settings), verifierKey: settings.verifierKey ?? "" });
      try {
        keys = await source.verifierKey();
      } finally {
        await source.close();
      }
      if (settings.verifierKey !== undefined && settings.verifierKey !== keys.verifierKey)
        throw new CliError(
          `${settings.server} states the verifier key ${keys.verifierKey}, not the pinned ${settings.verifierKey}: ` +
            "it serves another log than the one pinned",
        );
    }
    if (o.output === "json") {
      process.stdout.write(JSON.stringify({ origin: keys.origin, verifierKey: keys.verifierKey }) + "\n");
    } else {
      process.stdout.write(keys.verifierKey + "\n");
    }
  });
}
