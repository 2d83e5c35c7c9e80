// `kubetrail compact`: compresses the full entry bundles of a data directory that are still
// stored plain (written before compression existed, or left by a process that stopped before
// compressing them), and rewrites bundles compressed in one frame (before bundles were cut into
// seekable frames) so that reading one entry decompresses only its frame. `serve` compresses
// plain bundles in the background but leaves single-frame ones (they read correctly, only
// slower); this is for a stopped log.
import type { Command } from "commander";
import { DEFAULT_ENTRIES_PER_FRAME, isEntriesPerFrame } from "../store/bundle-codec.js";
import { compactStoppedLog } from "../store/fs/storage.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { progressBar } from "./progress.js";

export function registerCompact(program: Command): void {
  program
    .command("compact")
    .description(
      "compress the full entry bundles still stored plain, and rewrite those compressed in one frame " +
        "into seekable frames (zstd); safe to interrupt and re-run",
    )
    .requiredOption("--data <dir>", "data directory (the log must not be open for writing elsewhere)")
    .option(
      "--level <n>",
      "zstd level, 1 (fastest) to 19 (smallest), for the bundles it compresses or reframes (those already in seekable frames stay as they are)",
      "3",
    )
    .option(
      "--entries-per-frame <n>",
      "entries per seekable frame: 1, 2, 4 … 256 (fewer: cheaper reads of one entry, larger files)",
      String(DEFAULT_ENTRIES_PER_FRAME),
    )
    .option("-o, --output <format>", "text or json", "text")
    .action(async (o: { data: string; level: string; entriesPerFrame: string; output: string }) => {
      checkOutput(o.output, ["text", "json"]);
      const level = Number(o.level);
      if (!Number.isInteger(level) || level < 1 || level > 19)
        throw new CliError(`--level: "${o.level}" is not a whole number from 1 to 19`);
      const perFrame = Number(o.entriesPerFrame);
      if (!isEntriesPerFrame(perFrame))
        throw new CliError(`--entries-per-frame: "${o.entriesPerFrame}" is not a power of two from 1 to 256`);
      const started = Date.now();
      const progress = progressBar("compact", "bundles");
      const stats = await compactStoppedLog(o.data, {
        level,
        entriesPerFrame: perFrame,
        reframe: true,
        onProgress: (done, total) => progress.update(done, total),
      }).finally(() => progress.stop());
      const seconds = (Date.now() - started) / 1000;
      const summary = {
        bundles: stats.bundles,
        reframed: stats.reframed,
        plainBytes: stats.plainBytes,
        compressedBytes: stats.compressedBytes,
        seconds,
      };
      process.stdout.write(
        o.output === "json"
          ? JSON.stringify(summary) + "\n"
          : stats.bundles + stats.reframed === 0
            ? "every full bundle is already compressed in seekable frames\n"
            : `compressed ${stats.bundles} bundles and reframed ${stats.reframed}: ` +
              `${stats.plainBytes} → ${stats.compressedBytes} bytes in ${seconds.toFixed(1)}s\n`,
      );
    });
}
