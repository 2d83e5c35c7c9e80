// `kubetrail append`: a ledger of your own records. Reads JSON objects, one per line, from
// stdin and appends them; prints where they landed once a signed checkpoint covers them.
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { openFsLog } from "../store/fs/storage.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { isRecord } from "../json/record.js";

const BATCH = 1000;

export function registerAppend(program: Command): void {
  program
    .command("append")
    .description("append JSON objects read from stdin (one per line) to the log")
    .requiredOption("--data <dir>", "data directory")
    .option("--origin <origin>", "origin line if the log is new")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; origin?: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const log = await openFsLog(o.data, { origin: o.origin });
      let appended = 0;
      let firstIndex: number | null = null;
      let batch: Uint8Array[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const r = await log.append(batch);
        firstIndex ??= r.firstIndex;
        appended += batch.length;
        batch = [];
      };
      try {
        let lineNo = 0;
        for await (const raw of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
          lineNo++;
          const line = raw.trim();
          if (line === "") continue;
          const problem = objectLineProblem(line);
          if (problem !== null) {
            await flush();
            throw new CliError(
              `stdin line ${lineNo}: ${problem}; the ${appended} entries before it were appended`,
            );
          }
          batch.push(Buffer.from(line, "utf8"));
          if (batch.length >= BATCH) await flush();
        }
        await flush();
        const cp = await log.waitIntegrated(log.size());
        const summary = { appended, firstIndex, size: cp.size };
        process.stdout.write(
          o.output === "json"
            ? JSON.stringify(summary) + "\n"
            : `appended ${appended} entries${firstIndex === null ? "" : ` at ${firstIndex}`}; log size ${cp.size}\n`,
        );
      } finally {
        await log.close();
      }
    });
}

function objectLineProblem(line: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  return isRecord(value) ? null : "not a JSON object";
}
