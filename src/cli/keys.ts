// `kubetrail keys`: prints the verifier key auditors pin — of the log in --data (creating the
// signing key on first use), or the key a server states, checked against a pinned one;
// `kubetrail keys rotate [--finish]`: replaces the log's signing key (src/keys/rotation.ts).
import type { Command } from "commander";
import { apiClient } from "../client/connect.js";
import { remoteSource } from "../client/remote-source.js";
import { requestRotation } from "../keys/rotation-request.js";
import { KEY_FILES, Keyring } from "../keys/keyring.js";
import { RotationError } from "../keys/rotation.js";
import { loadOrCreateSigningKey } from "../store/fs/keys.js";
import { CliError } from "./errors.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";
import { addSourceOptions, remoteSettings, sourceKind, type SourceFlags } from "./output/source-options.js";

export function registerKeys(program: Command): void {
  const cmd = program
    .command("keys")
    .description("print the log's verifier key (name+hash+base64), creating the signing key on first use")
    .enablePositionalOptions()
    .option("--origin <origin>", "origin line for a new log (default: unique per installation)")
    .option("-o, --output <format>", "text or json", "text");
  addSourceOptions(cmd, { witnesses: false }).action(
    async (o: SourceFlags & { origin?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      let keys: { origin: string; verifierKey: string };
      /** Only a local log tells its rotation state. */
      let rotation: Record<string, unknown> = {};
      if (sourceKind(o) === "local") {
        const local = await loadOrCreateSigningKey(o.data as string, o.origin);
        keys = local;
        const ring = local instanceof Keyring ? local : undefined;
        rotation = {
          rotation: ring?.phase ?? "none",
          ...(ring?.nextSigner ? { nextKey: ring.nextSigner.verifierKey } : {}),
          keys: local.verifiers.map((v) => v.key),
        };
      } else {
        if (o.origin !== undefined)
          throw new CliError("--origin: only with --data, for a new log", USAGE_EXIT);
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
        process.stdout.write(
          JSON.stringify({ origin: keys.origin, verifierKey: keys.verifierKey, ...rotation }) + "\n",
        );
      } else {
        process.stdout.write(keys.verifierKey + "\n");
      }
    },
  );
  cmd
    .command("rotate")
    .description(
      "replace the log's signing key without a restart: start (a new key, both keys sign), then --finish (the old key retired); each step is recorded in the log",
    )
    .requiredOption("--data <dir>", "data directory")
    .option("--finish", "retire the old key: the new key alone signs from now on")
    .option("--timeout <seconds>", "how long to wait for a running serve to do the step", "60")
    .addHelpText(
      "after",
      `\nWhile serve runs, the step is asked of it through DATA/keys/${"rotation-request"} and done without a restart;\notherwise this command opens the log and does it. Between the two steps, add the new key (printed) to\nyour witnesses' and mirrors' logs files and to what auditors pin (${KEY_FILES.next.replace(".key", ".vkey")} holds it).`,
    )
    .action(async (o: { data: string; finish?: boolean; timeout: string }) => {
      try {
        const message = await requestRotation(
          o.data,
          o.finish ? "finish" : "begin",
          Number(o.timeout) * 1000,
        );
        process.stdout.write(message + "\n");
      } catch (err) {
        if (err instanceof RotationError) throw new CliError(err.message, err.code === "state" ? 2 : 1);
        throw err;
      }
    });
}
