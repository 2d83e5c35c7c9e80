// `--witness VKEY…` and `--min-witnesses K`, for every command that checks a checkpoint
// (verify, verify-bundle, export, the remote read commands): the witnesses whose cosignatures
// it must carry. A value `@FILE` reads keys from a file, one per line.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import {
  witnessPolicyFromFlags,
  WitnessPolicyError,
  type WitnessPolicy,
} from "../../verify/witness-policy.js";
import { CliError } from "../errors.js";
import { USAGE_EXIT } from "./format.js";
import { collect } from "../list-options.js";

export function addWitnessOptions(cmd: Command): Command {
  return cmd
    .option(
      "--witness <vkey>",
      "a witness's cosignature/v1 verifier key the checkpoint must be cosigned by (repeatable; @FILE: one key per line)",
      collect,
    )
    .option("--min-witnesses <k>", "how many of the --witness keys must have cosigned (default: all)");
}

/** The policy the flags give (null without --witness); a usage error names the bad flag. */
export async function witnessPolicyFromOptions(o: {
  witness?: string[];
  minWitnesses?: string;
}): Promise<WitnessPolicy | null> {
  const keys: string[] = [];
  for (const value of o.witness ?? []) {
    if (!value.startsWith("@")) {
      keys.push(value);
      continue;
    }
    let text: string;
    try {
      text = await readFile(value.slice(1), "utf8");
    } catch (err) {
      throw new CliError(
        `--witness ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        USAGE_EXIT,
      );
    }
    keys.push(
      ...text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#")),
    );
  }
  try {
    return witnessPolicyFromFlags(keys, o.minWitnesses);
  } catch (err) {
    if (err instanceof WitnessPolicyError) throw new CliError(err.message, USAGE_EXIT);
    throw err;
  }
}
