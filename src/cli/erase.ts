// `kubetrail erase`: removes the personal data of the entries of one user or one auditID from a
// stopped log, keeping it verifiable (src/erasure/run.ts), then rebuilds the derived files from
// the log so that no copy of the erased values is left in the data directory.
import { rmSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { runErasure, type ErasureSelector } from "../erasure/run.js";
import { canonicalEraseFilter, ERASE_FILTER_NAMES, selectByFilter } from "../erasure/select.js";
import type { RawFilter } from "../index/query.js";
import { LogError } from "../store/types.js";
import { collect } from "./list-options.js";
import { progressBar } from "./progress.js";
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

/** `--filter name=value` flags as the query's raw filter, checked, with their canonical text. */
function parseFilterFlags(flags: string[]): { raw: RawFilter; text: string } {
  const raw: Record<string, string[]> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0)
      throw new CliError(`--filter ${JSON.stringify(flag)}: expected NAME=VALUE, e.g. namespace=team-a`, 2);
    (raw[flag.slice(0, eq)] ??= []).push(flag.slice(eq + 1));
  }
  try {
    return { raw, text: canonicalEraseFilter(raw) };
  } catch (err) {
    if (err instanceof LogError) throw new CliError(`--filter: ${err.message}`, 2);
    throw err;
  }
}

/** The entries the filter selects, found with the index brought up to the log first. */
async function selectFiltered(dataDir: string, raw: RawFilter) {
  const session = await openCliSession(dataDir);
  try {
    return await selectByFilter(session, raw);
  } finally {
    session.close();
  }
}

export function registerErase(program: Command): void {
  program
    .command("erase")
    .description(
      "erase the entries of a user, an auditID or a query filter: tombstones keep their leaf hashes, an erasure record is appended, the index and dedupe store are rebuilt without them",
    )
    .requiredOption("--data <dir>", "data directory (stop serve first: the log must not be open elsewhere)")
    .option(
      "--user <name>",
      "every audit event by this user (or impersonating as them), and kubetrail records quoting the name",
    )
    .option("--audit-id <id>", "the audit event(s) with this auditID")
    .option(
      "--filter <name=value>",
      `the requests a query filter matches, every stage of each (repeatable: names AND, a repeated name ORs; names: ${ERASE_FILTER_NAMES.join(", ")}; one of user, group, resource, namespace, name, source-ip or audit-id is required)`,
      collect,
    )
    .requiredOption("--reason <text>", "why, as recorded (a request reference)")
    .option("--by <name>", "who runs it, as recorded (default: user@host)")
    .option(
      "--skip-open-bundle",
      "erase the matches in full bundles now and leave those in the open bundle (the newest, under 256 entries), named, for a run once it has filled",
    )
    .option("--dry-run", "only list the entries that would be erased")
    .option("-o, --output <format>", "text or json", "text")
    .action(
      async (o: {
        data: string;
        user?: string;
        auditId?: string;
        filter?: string[];
        reason: string;
        by?: string;
        dryRun?: boolean;
        skipOpenBundle?: boolean;
        output: string;
      }) => {
        checkOutput(o.output, ["text", "json"]);
        const given = [o.user, o.auditId, o.filter].filter((v) => v !== undefined).length;
        if (given !== 1)
          throw new CliError("give exactly one of --user NAME, --audit-id ID or --filter NAME=VALUE", 2);
        if (o.user === "" || o.auditId === "")
          throw new CliError(`--${o.user !== undefined ? "user" : "audit-id"}: empty`, 2);
        const filter = o.filter === undefined ? undefined : parseFilterFlags(o.filter);
        const started = Date.now();
        const hmacKey = await loadOrCreateRedactionKey(o.data);
        const selector: ErasureSelector =
          filter !== undefined
            ? { field: "filter", value: filter.text, ...(await selectFiltered(o.data, filter.raw)) }
            : o.user !== undefined
              ? { field: "user", value: o.user }
              : { field: "auditID", value: o.auditId! };
        const log = await openFsLog(o.data);
        // A whole-log scan: minutes on a large log.
        const progress = progressBar("erase: scanning", "entries");
        let result;
        try {
          result = await runErasure(log, {
            selector,
            by: o.by ?? defaultActor(),
            reason: o.reason,
            hmacKey,
            dryRun: o.dryRun === true,
            skipOpenBundle: o.skipOpenBundle === true,
            onProgress: (done, total) => progress.update(done, total),
          });
        } finally {
          progress.stop();
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
        const left =
          result.inOpenBundle.length === 0
            ? ""
            : `; ${result.inOpenBundle.length} matches in the open bundle (from ${result.inOpenBundle[0]}) ${o.dryRun && !o.skipOpenBundle ? "would refuse the erasure (or be left with --skip-open-bundle)" : "left: run again once it has filled"}`;
        process.stdout.write(
          (result.entries.length === 0
            ? result.inOpenBundle.length === 0
              ? "no entry matches"
              : "nothing to erase in full bundles"
            : o.dryRun
              ? `would erase ${result.entries.length} entries: ${result.entries.join(", ")}`
              : `erased ${result.entries.length} entries in ${result.bundles} bundles under erasure record ${result.records.map((r) => `#${r}`).join(", ")}; index and dedupe store rebuilt (${seconds.toFixed(1)}s)`) +
            left +
            "\n",
        );
      },
    );
}
