// `kubetrail import`: backfill the log backend's audit files, or --follow the live one.
import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { Command, Option } from "commander";
import { statSync } from "node:fs";
import { orderAuditFiles } from "../ingest/file-order.js";
import { followFile } from "../ingest/follow-file.js";
import { importFiles, type ImportSummary } from "../ingest/import-files.js";
import { ImportState } from "../ingest/import-state.js";
import { openIngest } from "../ingest/open-ingest.js";
import { importToServer, RemoteImportError } from "../ingest/remote-import.js";
import { compactStoppedLog, fsStorage } from "../store/fs/storage.js";
import { LogError } from "../store/types.js";
import { progressBar } from "./progress.js";
import { CliError } from "./errors.js";
import { ingestClient, webhookUrl } from "./ingest-client.js";

interface ImportFlags {
  data?: string;
  server?: string;
  tokenFile?: string;
  clientCert?: string;
  clientKey?: string;
  ca?: string;
  stateFile?: string;
  maxBatchBytes: string;
  retryFor: string;
  follow?: string;
  policy?: string;
  redactionRules?: string;
  secretDetectors?: string;
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

/** Where `import --server` keeps its progress unless --state-file says: one file per server. */
function defaultStateFile(server: string): string {
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  const id = createHash("sha256").update(server).digest("hex").slice(0, 16);
  return path.join(base, "kubetrail", `import-${id}.json`);
}

function seconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`${flag}: ${text} is not a number of seconds`, 2);
  return n;
}

async function importRemote(
  files: string[],
  server: string,
  flags: ImportFlags,
  batchSize: number,
): Promise<void> {
  const maxBatchBytes = Number(flags.maxBatchBytes);
  if (!Number.isInteger(maxBatchBytes) || maxBatchBytes < 1024)
    throw new CliError(`--max-batch-bytes: ${flags.maxBatchBytes} is not an integer ≥ 1024`, 2);
  const retryForMs = seconds(flags.retryFor, "--retry-for") * 1000;
  const client = ingestClient(server, flags);
  const stateFile = flags.stateFile ?? defaultStateFile(webhookUrl(server).origin);
  const note = (msg: string) => process.stderr.write(`import: ${msg}\n`);
  const state = await ImportState.open(stateFile, webhookUrl(server).origin, note);
  let stop = false;
  const onSignal = () => {
    stop = true;
    note("stopping after the batch in flight (progress is kept)");
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const ordered = await orderAuditFiles(files);
  const total = ordered.reduce((n, f) => n + statSync(f).size, 0);
  const progress = progressBar("import", "bytes", Boolean(flags.progress));
  let done = 0;
  try {
    const summary = await importToServer(ordered, client.post, {
      batchSize,
      maxBatchBytes,
      state,
      retryForMs,
      onBytes: (n) => progress.update((done += n), total),
      onNote: note,
      stopRequested: () => stop,
    }).finally(() => progress.stop());
    printSummary(summary, flags.output);
    if (summary.resumedLines > 0 && flags.output === "text")
      process.stdout.write(
        `skipped ${summary.resumedLines} lines acknowledged by an earlier run (${stateFile})\n`,
      );
    if (summary.interrupted) process.exitCode = 130;
    else if (summary.rejectedCount > 0) process.exitCode = 1;
  } catch (err) {
    if (err instanceof RemoteImportError) throw new CliError(`${server}: ${err.message}`);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    client.close();
  }
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description(
      "Import the kube-apiserver's audit log files (JSON lines, rotated names, .gz) in time order; " +
        "re-importing adds nothing; exits 1 when lines were rejected. With --data, into a stopped log directory; " +
        "with --server, into a running kubetrail serve through its authenticated webhook API (resumable). " +
        "With --follow, tail the live file across rotations and restarts.",
    )
    .argument("[files...]", "audit log files (the log backend's --audit-log-path and its rotated backups)")
    .option("--data <dir>", "data directory of the log (must not be open by a running serve)")
    .option(
      "--server <url>",
      "a running kubetrail serve, e.g. https://kubetrail.example:8443 (instead of --data)",
    )
    .option(
      "--token-file <file>",
      "with --server: file holding an ingest token (never give it on the command line)",
    )
    .option(
      "--client-cert <file>",
      "with --server: client certificate (PEM) the server accepts (serve --client-ca)",
    )
    .option("--client-key <file>", "with --server: the client certificate's key (PEM)")
    .option(
      "--ca <file>",
      "with --server: CA bundle (PEM) to verify the server's certificate; default: the system's",
    )
    .option(
      "--state-file <file>",
      "with --server: where progress is kept, to resume an interrupted import (default: ~/.local/state/kubetrail/import-<server>.json)",
    )
    .option("--max-batch-bytes <n>", "with --server: body bytes per POST at most", String(4 << 20))
    .option(
      "--retry-for <seconds>",
      "with --server: keep retrying an unavailable or busy server this long",
      "300",
    )
    .option(
      "--follow <file>",
      "follow this live audit log until interrupted; the position is kept in DIR/follow/",
    )
    .option("--policy <file>", "audit Policy YAML applied at ingest (as for serve)")
    .option("--redaction-rules <file>", "extra redaction rules (YAML); built-in rules always apply")
    .option("--secret-detectors <file>", "extra credential detectors (YAML, as for serve)")
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
      if ((flags.data === undefined) === (flags.server === undefined))
        throw new CliError("give either --data DIR (a stopped log) or --server URL (a running serve)", 2);
      for (const f of files) {
        try {
          // Each file is read twice (its first events order it among the others, then it is
          // stored) and from an offset when an import resumes: a pipe allows neither.
          if (!statSync(f).isFile())
            throw new CliError(
              `${f}: not a regular file (a pipe or a device): import reads each file twice and ` +
                `resumes from offsets; write it to a file first (e.g. > audit.log) and import that`,
              2,
            );
        } catch (err) {
          if (err instanceof CliError) throw err;
          const code = (err as NodeJS.ErrnoException).code;
          const why =
            code === "ENOENT"
              ? f === "-"
                ? "no such file (standard input is not read: write it to a file first and import that)"
                : "no such file"
              : code === "EACCES"
                ? "permission denied"
                : (err as Error).message;
          throw new CliError(`${f}: cannot read the audit log file: ${why}`, 2);
        }
      }
      if (flags.server !== undefined) {
        if (flags.follow)
          throw new CliError(
            "--follow works with --data only (serve --follow-audit-log follows a live file)",
            2,
          );
        await importRemote(files, flags.server, flags, batchSize);
        return;
      }
      const data = flags.data!;
      let ingest;
      // A new dedupe store reads the whole log first: at millions of entries, worth showing.
      const catchUp = progressBar("dedupe", "entries", Boolean(flags.progress));
      try {
        ingest = await openIngest(fsStorage(data), {
          policyFile: flags.policy,
          redactionRulesFile: flags.redactionRules,
          secretDetectorsFile: flags.secretDetectors,
          onCatchUp: (done, total) => catchUp.update(done, total),
        }).finally(() => catchUp.stop());
      } catch (err) {
        if (err instanceof LogError && err.code === "locked") {
          throw new CliError(
            `${err.message} (import into the running serve with --server URL and --token-file or --client-cert, or stop it first)`,
            1,
            { cause: err },
          );
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
            `following ${flags.follow} (position in ${path.join(data, "follow")}); stop with Ctrl-C\n`,
          );
          const summary = await followFile(flags.follow, ingest.pipeline, {
            stateDir: path.join(data, "follow"),
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
      if (!flags.follow) await compressImported(data, Boolean(flags.progress));
    });
}

/**
 * A running log compresses each bundle in the background once it is full; a one-shot import
 * stops seconds after its last one, so it finishes the job before it exits. A serve that took
 * the log in between compresses them itself.
 */
async function compressImported(data: string, progress: boolean): Promise<void> {
  try {
    const bar = progressBar("compress", "bundles", progress);
    await compactStoppedLog(data, { onProgress: (done, total) => bar.update(done, total) }).finally(() =>
      bar.stop(),
    );
  } catch (err) {
    if (!(err instanceof LogError && err.code === "locked")) throw err;
  }
}
