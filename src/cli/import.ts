// `kubetrail import`: backfill the log backend's audit files, or --follow the live one.
import path from "node:path";
import { Command, Option } from "commander";
import { statSync } from "node:fs";
import { orderAuditFiles } from "../ingest/file-order.js";
import { followFile } from "../ingest/follow-file.js";
import { importFiles, type ImportSummary } from "../ingest/import-files.js";
import { openIngest } from "../ingest/open-ingest.js";
import { fsStorage } from "../store/fs/storage.js";
import { LogError } from "../store/types.js";
import { progressBar } from "./progress.js";
import { CliError } from "./errors.js";

interface ImportFlags {
  data: string;
  follow?: string;
  policy?: string;
  redactionRules?: string;
  batchSize: string;
  output: string;
  progress: boolean;
}

function printSummary(s: ImportSummary, output: string): void {
  if (output === "json") {
    process.stdout.write(JSON.stringify(s) + "\n");
    return;
  }
  process.stdout.write(
    `files ${s.files}, lines read ${s.read}, stored ${s.stored}, duplicates ${s.duplicates}` +
      (s.conflicts > 0 ? ` (${s.conflicts} stored flagged as conflicting)` : "") +
      (s.dropped > 0 ? `, dropped by policy ${s.dropped}` : "") +
      `, rejected ${s.rejectedCount}\n`,
  );
  for (const r of s.rejected) process.stdout.write(`rejected ${r.file}:${r.line}: ${r.reason}\n`);
  if (s.rejectedCount > s.rejected.length)
    process.stdout.write(`… and ${s.rejectedCount - s.rejected.length} more rejected lines\n`);
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description(
      "Import the kube-apiserver's audit log files (JSON lines, rotated names, .gz) in time order; " +
        "re-importing adds nothing; exits 1 when lines were rejected. With --follow, tail the live file across rotations and restarts.",
    )
    .argument("[files...]", "audit log files (the log backend's --audit-log-path and its rotated backups)")
    .requiredOption("--data <dir>", "data directory of the log (must not be open by a running serve)")
    .option(
      "--follow <file>",
      "follow this live audit log until interrupted; the position is kept in DIR/follow/",
    )
    .option("--policy <file>", "audit Policy YAML applied at ingest (as for serve)")
    .option("--redaction-rules <file>", "extra redaction rules (YAML); built-in rules always apply")
    .option("--batch-size <n>", "events per append", "400")
    .option("--no-progress", "no progress bar even on a terminal")
    .addOption(
      new Option("-o, --output <format>", "summary format").choices(["text", "json"]).default("text"),
    )
    .action(async (files: string[], flags: ImportFlags) => {
      const batchSize = Number(flags.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1)
        throw new CliError(`--batch-size: ${flags.batchSize} is not a positive integer`, 2);
      if (files.length === 0 && !flags.follow)
        throw new CliError("give audit log files to import, or --follow FILE", 2);
      for (const f of files) {
        try {
          statSync(f);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why =
            code === "ENOENT"
              ? "no such file"
              : code === "EACCES"
                ? "permission denied"
                : (err as Error).message;
          throw new CliError(`${f}: cannot read the audit log file: ${why}`, 2);
        }
      }
      let ingest;
      // A new dedupe store reads the whole log first: at millions of entries, worth showing.
      const catchUp = progressBar("dedupe", "entries", Boolean(flags.progress));
      try {
        ingest = await openIngest(fsStorage(flags.data), {
          policyFile: flags.policy,
          redactionRulesFile: flags.redactionRules,
          onCatchUp: (done, total) => catchUp.update(done, total),
        }).finally(() => catchUp.stop());
      } catch (err) {
        if (err instanceof LogError && err.code === "locked") {
          throw new CliError(`${err.message} (stop serve, or import before starting it)`);
        }
        throw err;
      }
      try {
        if (files.length > 0) {
          const ordered = await orderAuditFiles(files);
          const total = ordered.reduce((n, f) => n + statSync(f).size, 0);
          const progress = progressBar("import", "bytes", Boolean(flags.progress));
          let done = 0;
          const summary = await importFiles(ordered, ingest.pipeline, {
            batchSize,
            onBytes: (n) => progress.update((done += n), total),
          }).finally(() => progress.stop());
          printSummary(summary, flags.output);
          if (summary.rejectedCount > 0) process.exitCode = 1;
        }
        if (flags.follow) {
          const controller = new AbortController();
          process.once("SIGTERM", () => controller.abort());
          process.once("SIGINT", () => controller.abort());
          process.stderr.write(
            `following ${flags.follow} (position in ${path.join(flags.data, "follow")}); stop with Ctrl-C\n`,
          );
          const summary = await followFile(flags.follow, ingest.pipeline, {
            stateDir: path.join(flags.data, "follow"),
            batchSize,
            signal: controller.signal,
            onProgress: (_s, note) => {
              if (note) process.stderr.write(`${flags.follow}: ${note}\n`);
            },
          });
          printSummary(summary, flags.output);
        }
      } finally {
        await ingest.close();
      }
    });
}
