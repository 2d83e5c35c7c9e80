// `kubetrail keys`: prints the verifier key auditors pin (creating the log's keys if new);
// `kubetrail keys rotate [--finish]`: replaces the log's signing key (src/keys/rotation.ts).
import type { Command } from "commander";
import { requestRotation } from "../keys/rotation-request.js";
import { KEY_FILES, Keyring } from "../keys/keyring.js";
import { RotationError } from "../keys/rotation.js";
import { loadOrCreateSigningKey } from "../store/fs/keys.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";

export function registerKeys(program: Command): void {
  const cmd = program
    .command("keys")
    .description("print the log's verifier key (name+hash+base64), creating the signing key on first use")
    .enablePositionalOptions()
    // Not a required option: commander would then demand it of `keys rotate` too.
    .option("--data <dir>", "data directory (required)")
    .option("--origin <origin>", "origin line for a new log (default: unique per installation)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data?: string; origin?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      if (!o.data) throw new CliError("--data DIR is required", 2);
      const keys = await loadOrCreateSigningKey(o.data, o.origin);
      if (o.output === "json") {
        const ring = keys instanceof Keyring ? keys : undefined;
        process.stdout.write(
          JSON.stringify({
            origin: keys.origin,
            verifierKey: keys.verifierKey,
            rotation: ring?.phase ?? "none",
            ...(ring?.nextSigner ? { nextKey: ring.nextSigner.verifierKey } : {}),
            keys: keys.verifiers.map((v) => v.key),
          }) + "\n",
        );
      } else {
        process.stdout.write(keys.verifierKey + "\n");
      }
    });
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
