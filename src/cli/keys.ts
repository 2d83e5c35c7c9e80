// `kubetrail keys`: prints the verifier key auditors pin (creating the log's keys if new).
import type { Command } from "commander";
import { loadOrCreateSigningKey } from "../store/fs/keys.js";
import { checkOutput } from "./output/format.js";

export function registerKeys(program: Command): void {
  program
    .command("keys")
    .description("print the log's verifier key (name+hash+base64), creating the signing key on first use")
    .requiredOption("--data <dir>", "data directory")
    .option("--origin <origin>", "origin line for a new log (default: unique per installation)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; origin?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const keys = await loadOrCreateSigningKey(o.data, o.origin);
      if (o.output === "json") {
        process.stdout.write(JSON.stringify({ origin: keys.origin, verifierKey: keys.verifierKey }) + "\n");
      } else {
        process.stdout.write(keys.verifierKey + "\n");
      }
    });
}
