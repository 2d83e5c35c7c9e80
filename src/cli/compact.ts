// `kubetrail compact`: compresses the full entry bundles of a data directory that are still
// stored plain (written before compression existed, or left by a process that stopped before
// compressing them). `serve` does the same in the background; this is for a stopped log.
import type { Command } from "commander";
import { openFsLog } from "../store/fs/storage.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";

export function registerCompact(program: Command): void {
  program
    .command("compact")
    .description(
      "compress the full entry bundles still stored plain (zstd, one frame per bundle); safe to interrupt and re-run",
    )
    .requiredOption("--data <dir>", "data directory (the log must not be open for writing elsewhere)")
    .option("--level <n>", "zstd level, 1 (fastest) to 19 (smallest)", "3")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; level: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const level = Number(o.level);
      if (!Number.isInteger(level) || level < 1 || level > 19)
        throw new CliError(`--level: "${o.level}" is not a whole number from 1 to 19`);
      const started = Date.now();
      const log = await openFsLog(o.data, { compressLevel: level });
      try {
        const stats = await log.driver.compactAll();
        const seconds = (Date.now() - started) / 1000;
        const summary = {
          bundles: stats.bundles,
          plainBytes: stats.plainBytes,
          compressedBytes: stats.compressedBytes,
          seconds,
        };
        process.stdout.write(
          o.output === "json"
            ? JSON.stringify(summary) + "\n"
            : stats.bundles === 0
              ? "every full bundle is already compressed\n"
              : `compressed ${stats.bundles} bundles: ${stats.plainBytes} → ${stats.compressedBytes} bytes ` +
                `(${(stats.plainBytes / Math.max(1, stats.compressedBytes)).toFixed(1)}×) in ${seconds.toFixed(1)}s\n`,
        );
      } finally {
        await log.close();
      }
    });
}
