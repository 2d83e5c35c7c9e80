// `kubetrail erase`: removes the personal data of the entries of one user or one auditID from a
// stopped log, keeping it verifiable (src/erasure/run.ts), then rebuilds the derived files from
// the log so that no copy of the erased values is left in the data directory.
import { rmSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { runErasure, type ErasureSelector } from "../erasure/run.js";
import { loadOrCreateRedactionKey } from "../store/fs/keys.js";
import { openFsLog } from "../store/fs/storage.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { openCliSession } from "./output/session.js";
import { defaultActor } from "./retention.js";

/** Derived files that may hold copies of entries: removed, then rebuilt from the log. */
function removeDerived(dataDir: string): void {
  for (const name of ["index.db", "index.db-wal", "index.db-shm", "index.db-journal", "dedupe"])
    rmSync(path.join(dataDir, name), { recursive: true, force: true });
}

export function registerErase(program: Command): void {
  program
    .command("erase")
    .description(
      "erase the entries of a user or an auditID: tombstones keep their leaf hashes, an erasure record is appended, the index and dedupe store are rebuilt without them",
    )
    .requiredOption("--data <dir>", "data directory (stop serve first: the log must not be open elsewhere)")
    .option(
      "--user <name>",
      "every audit event by this user (or impersonating as them), and kubetrail records quoting the name",
    )
    .option("--audit-id <id>", "the audit event(s) with this auditID")
    .requiredOption("--reason <text>", "why, as recorded (a request reference)")
    .option("--by <name>", "who runs it, as recorded (default: user@host)")
    .option("--dry-run", "only list the entries that would be erased")
    .option("-o, --output <format>", "text or json", "text")
    .action(
      async (o: {
        data: string;
        user?: string;
        auditId?: string;
        reason: string;
        by?: string;
        dryRun?: boolean;
        output: string;
      }) => {
        checkOutput(o.output, ["text", "json"]);
        if ((o.user === undefined) === (o.auditId === undefined))
          throw new CliError("give exactly one of --user NAME or --audit-id ID", 2);
        const selector: ErasureSelector =
          o.user !== undefined ? { field: "user", value: o.user } : { field: "auditID", value: o.auditId! };
        if (selector.value === "")
          throw new CliError(`--${o.user !== undefined ? "user" : "audit-id"}: empty`, 2);
        const started = Date.now();
        const hmacKey = await loadOrCreateRedactionKey(o.data);
        const log = await openFsLog(o.data);
        let result;
        try {
          result = await runErasure(log, {
            selector,
            by: o.by ?? defaultActor(),
            reason: o.reason,
            hmacKey,
            dryRun: o.dryRun === true,
          });
        } finally {
          await log.close();
        }
        if (!o.dryRun && result.entries.length > 0) {
          removeDerived(o.data);
          (await openCliSession(o.data, { rebuild: true })).close();
        }
        const seconds = (Date.now() - started) / 1000;
        if (o.output === "json") {
          process.stdout.write(JSON.stringify({ ...result, dryRun: o.dryRun === true, seconds }) + "\n");
          return;
        }
        process.stdout.write(
          result.entries.length === 0
            ? "no entry matches\n"
            : o.dryRun
              ? `would erase ${result.entries.length} entries: ${result.entries.join(", ")}\n`
              : `erased ${result.entries.length} entries in ${result.bundles} bundles under erasure record ${result.records.map((r) => `#${r}`).join(", ")}; index and dedupe store rebuilt (${seconds.toFixed(1)}s)\n`,
        );
      },
    );
}
