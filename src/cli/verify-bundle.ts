// `kubetrail verify-bundle bundle.json --key VKEY`: offline check of an evidence bundle, with
// no server and no data directory. Exit 0 with a summary, or 1 naming every failing entry.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { verifyBundle } from "../index/evidence.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { addWitnessOptions, witnessPolicyFromOptions } from "./output/witness-options.js";
import { collect } from "./list-options.js";

export function registerVerifyBundle(program: Command): void {
  const cmd = program
    .command("verify-bundle")
    .argument("<bundle>", "evidence bundle written by kubetrail export")
    .description("check an evidence bundle offline against the log's verifier key")
    .requiredOption(
      "--key <vkey>",
      "the log's verifier key (name+hash+base64), or @FILE to read it; repeatable (a key rotation is followed from any of them)",
      collect,
    )
    .option("-o, --output <format>", "text or json", "text");
  addWitnessOptions(cmd).action(
    async (file: string, o: { key: string[]; output: string; witness?: string[]; minWitnesses?: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const key = await Promise.all(
        o.key.map(async (k) => (k.startsWith("@") ? (await readFile(k.slice(1), "utf8")).trim() : k)),
      );
      let bundle: unknown;
      try {
        bundle = JSON.parse(await readFile(file, "utf8"));
      } catch (err) {
        throw new CliError(`${file}: not readable JSON (${(err as Error).message})`, 1, { cause: err });
      }
      const report = verifyBundle(bundle, key, { witnesses: await witnessPolicyFromOptions(o) });
      if (o.output === "json") process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      else if (report.ok) {
        process.stdout.write(
          `OK: ${report.verified} entries of log "${report.origin}" proven included in the tree of size ` +
            `${report.treeSize} (root ${report.rootHash}) signed by the given key` +
            (report.witnesses ? ` and cosigned by ${report.witnesses.join(", ")}` : "") +
            "\n",
        );
      }
      if (!report.ok) {
        for (const f of report.failures) {
          const where =
            f.item === undefined
              ? file
              : `${file}: entries[${f.item}]${f.index === undefined ? "" : ` (log index ${f.index})`}`;
          process.stderr.write(`FAIL ${where}: ${f.message}\n`);
        }
        throw new CliError(
          `${file}: ${report.failures.length} problem(s); ${report.verified} entries verified`,
        );
      }
    },
  );
}
