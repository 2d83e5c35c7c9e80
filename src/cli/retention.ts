// `kubetrail retention run`: applies a retention policy to a stopped log (serve applies it
// itself with --retention-policy). The run appends a retention record to the log, waits for a
// signed checkpoint over it, and only then removes the bundles wholly outside the policy (and,
// with --thin, each entry past it in the bundles kept, listed in records first). Like serve's
// runs, it keeps what serve's push mirrors have not cosigned yet (DATA/mirrors-held.json).
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { MirrorHolds, MIRRORS_HELD_FILE } from "../publish/mirror-holds.js";
import { parseRetentionPolicy, RetentionError, type RetentionPolicy } from "../retention/policy.js";
import { runRetention } from "../retention/run.js";
import { dropPrunedRows, dropThinnedRows, forgetDroppedStrings } from "../index/drop-pruned.js";
import { openFsLog } from "../store/fs/storage.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { progressBar } from "./progress.js";

/** The policy in `file`, or a CliError saying what is wrong with it. */
export function readRetentionPolicy(file: string): RetentionPolicy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`--policy ${file}: ${(err as Error).message}`, 2, { cause: err });
  }
  try {
    return parseRetentionPolicy(text, file);
  } catch (err) {
    if (err instanceof RetentionError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

/** The holds serve's push mirrors left in DATA (mirror-holds.ts); a damaged file is a usage error. */
async function savedMirrorHolds(dataDir: string): Promise<MirrorHolds | null> {
  const file = path.join(dataDir, MIRRORS_HELD_FILE);
  try {
    return await MirrorHolds.saved(file, (message, fields) =>
      process.stderr.write(`warning: ${message} ${JSON.stringify(fields)}\n`),
    );
  } catch (err) {
    throw new CliError(
      `${file}: ${(err as Error).message} (serve rewrites it when it starts; or run with --ignore-mirrors)`,
      2,
    );
  }
}

/** Who a run is recorded as when --by is not given. */
export function defaultActor(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

export function registerRetention(program: Command): void {
  const retention = program
    .command("retention")
    .description(
      "apply a retention policy: remove the oldest entry bundles it no longer keeps, recorded in the log",
    );
  retention
    .command("run")
    .description(
      "append a retention record and remove the bundles wholly outside the policy, and with --thin each entry past it in the bundles kept (the tree, every checkpoint and every proof still verify)",
    )
    .requiredOption(
      "--data <dir>",
      "data directory (the log must not be open for writing elsewhere: serve applies --retention-policy itself)",
    )
    .requiredOption("--policy <file>", "a kubetrail.dev/v1 RetentionPolicy (YAML or JSON)")
    .option("--by <name>", "who runs it, as recorded (default: user@host)")
    .option(
      "--thin",
      "also remove, one by one, the entries the policy no longer keeps from the bundles it keeps (reads every full bundle)",
    )
    .option("--dry-run", "only say what would be removed")
    .option(
      "--ignore-mirrors",
      "also remove what serve's push mirrors have not cosigned yet (DATA/mirrors-held.json); they can then follow the log only as new copies",
    )
    .option("-o, --output <format>", "text or json", "text")
    .action(
      async (o: {
        data: string;
        policy: string;
        by?: string;
        thin?: boolean;
        dryRun?: boolean;
        ignoreMirrors?: boolean;
        output: string;
      }) => {
        checkOutput(o.output, ["text", "json"]);
        const policy = readRetentionPolicy(o.policy);
        const holds = o.ignoreMirrors ? null : await savedMirrorHolds(o.data);
        const started = Date.now();
        const log = await openFsLog(o.data);
        let result;
        let thinnedRows = 0;
        const progress = progressBar("retention: looking for entries to thin", "entries", o.thin === true);
        const rewriting = progressBar("retention: thinning", "bundles", o.thin === true);
        try {
          result = await runRetention(log, {
            policy,
            by: o.by ?? defaultActor(),
            dryRun: o.dryRun === true,
            thin: o.thin === true,
            ...(holds ? { hold: (prunedBefore: number) => holds.hold(prunedBefore) } : {}),
            onProgress: (done, total) => progress.update(done, total),
            onThinned: (indexes, done, total) => {
              thinnedRows += dropThinnedRows(o.data, indexes);
              progress.stop();
              rewriting.update(done, total);
            },
          });
        } finally {
          progress.stop();
          rewriting.stop();
          await log.close();
        }
        // The index rows of what is pruned go too; every run, so none a crash left behind stays.
        const prunedRows = o.dryRun ? 0 : dropPrunedRows(o.data, result.before);
        const indexRowsDropped = prunedRows + thinnedRows;
        // Names only those rows held go from the index's dictionary too (and any a crash left).
        const stringsForgotten = o.dryRun ? 0 : forgetDroppedStrings(o.data);
        const seconds = (Date.now() - started) / 1000;
        if (o.output === "json") {
          process.stdout.write(
            JSON.stringify({
              ...result,
              indexRowsDropped,
              stringsForgotten,
              dryRun: o.dryRun === true,
              seconds,
            }) + "\n",
          );
          return;
        }
        const what =
          result.bundles === 0
            ? `nothing to remove (${result.stoppedBy})` +
              (prunedRows > 0 ? `; ${prunedRows} index rows of entries pruned earlier dropped` : "")
            : `${o.dryRun ? "would remove" : "removed"} entries ${result.from}–${result.before - 1} (${result.bundles} bundles` +
              (o.dryRun
                ? ")"
                : `, ${(result.bytesFreed / 1e6).toFixed(1)} MB, ${prunedRows} index rows) under retention record #${result.recordIndex}`) +
              `; stopped: ${result.stoppedBy}`;
        const t = result.thinned;
        const thinned = !o.thin
          ? ""
          : t.entries === 0
            ? "; no entry to thin in the bundles kept"
            : o.dryRun
              ? `; would thin ${t.entries} entries from ${t.bundles} kept bundles`
              : `; thinned ${t.entries} entries from ${t.bundles} kept bundles (${(t.bytesFreed / 1e6).toFixed(1)} MB, ${thinnedRows} index rows) under retention record${t.records.length > 1 ? "s" : ""} #${t.records.join(", #")}`;
        process.stdout.write(`${what}${thinned} in ${seconds.toFixed(1)}s\n`);
      },
    );
}
