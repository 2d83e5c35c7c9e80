// `kubetrail export [filters] -o bundle.json`: matching entries with inclusion proofs against
// the latest signed checkpoint, for an auditor to check with `verify-bundle`.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { buildBundle } from "../index/evidence.js";
import { resolveEntries } from "../index/resolve.js";
import { openCliSession } from "./output/session.js";
import type { RawFilter } from "../index/query.js";
import { addFilterOptions, filterFromOptions } from "./output/filter-options.js";
import { addWitnessOptions, witnessPolicyFromOptions } from "./output/witness-options.js";
import { NoteVerifier } from "../tlog/index.js";
import { openWitnessedCheckpoint, WitnessPolicyError } from "../verify/witness-policy.js";
import { CliError } from "./errors.js";
import { fsStorage } from "../store/fs/storage.js";
import { readKeyEventIndexes } from "../keys/keyring.js";

export function registerExport(program: Command): void {
  const cmd = program
    .command("export")
    .description(
      "write an evidence bundle: matching entries, their inclusion proofs and the signed checkpoint",
    )
    .requiredOption("--data <dir>", "data directory")
    .requiredOption("-o, --output <file>", "bundle file to write (- for stdout)");
  addWitnessOptions(addFilterOptions(cmd, { order: false })).action(
    async (
      o: Record<string, unknown> & {
        data: string;
        output: string;
        witness?: string[];
        minWitnesses?: string;
      },
    ) => {
      const filter = filterFromOptions(o, { asc: ["true"] });
      const policy = await witnessPolicyFromOptions(o);
      const session = await openCliSession(o.data);
      try {
        if (policy) {
          // Evidence is only as good as its checkpoint: refuse one the witnesses have not cosigned.
          const log = session.log;
          try {
            openWitnessedCheckpoint(
              log.latestCheckpoint().note,
              [NoteVerifier.fromKey(await fsStorage(o.data).verifierKey())],
              policy,
            );
          } catch (err) {
            if (err instanceof WitnessPolicyError) throw new CliError(`not exporting: ${err.message}`);
            throw err;
          }
        }
        filter.logSize = session.log.size();
        const found = session.index.search(filter, Date.now() * 1000);
        const entries = await resolveEntries(session.log, found.rows);
        const bundle = await buildBundle(
          session.log,
          entries,
          describeQuery(o),
          new Date(),
          await readKeyEventIndexes(o.data),
        );
        const text = JSON.stringify(bundle, null, 2) + "\n";
        if (o.output === "-") process.stdout.write(text);
        else {
          await writeFile(o.output, text);
          process.stderr.write(
            `wrote ${bundle.entries.length} entries proven against checkpoint size ${session.log.size()} to ${o.output}` +
              (found.next ? ` (more match: raise --limit)` : "") +
              "\n",
          );
        }
      } finally {
        session.close();
      }
    },
  );
}

/** The filters as given, recorded in the bundle so a reader knows what was asked. */
function describeQuery(o: Record<string, unknown>): RawFilter {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "data" || k === "output" || k === "witness" || k === "minWitnesses" || v === undefined)
      continue;
    const values = Array.isArray(v) ? v.map(String) : [String(v)];
    if (values.length > 0) out[k] = values;
  }
  return out as RawFilter;
}
