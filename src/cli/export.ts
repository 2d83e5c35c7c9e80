// `kubetrail export [filters] -o bundle.json`: matching entries with inclusion proofs against
// one signed checkpoint, for an auditor to check with `verify-bundle`. Streamed: any number of
// entries is written a page at a time.
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Command } from "commander";
import { bundleEntry, bundleHeader, type BundleEntry } from "../index/evidence.js";
import type { RawFilter } from "../index/query.js";
import type { Listing, ReadSource, TrustedCheckpoint } from "../client/source.js";
import { readKeyEventIndexes } from "../keys/keyring.js";
import { addFilterOptions, filterFromOptions, parseTotal } from "./output/filter-options.js";
import { addSourceOptions, openSource, sourceKind, type SourceFlags } from "./output/source-options.js";
import { writeOut } from "./output/write-out.js";

export function registerExport(program: Command): void {
  const cmd = program
    .command("export")
    .description(
      "write an evidence bundle: matching entries, their inclusion proofs and the signed checkpoint",
    )
    .requiredOption("-o, --output <file>", "bundle file to write (- for stdout)");
  addSourceOptions(addFilterOptions(cmd, { order: false })).action(
    async (o: Record<string, unknown> & SourceFlags & { output: string; limit?: string }) => {
      const filter = filterFromOptions(o, { asc: ["true"] });
      const total = parseTotal(o.limit, 100);
      const local = sourceKind(o) === "local";
      const source = await openSource(o);
      try {
        await exportBundle(source, filter, o.limit, total, o.output, {
          // The log's key history travels in the bundle, for an auditor who pinned an older key.
          keyEventIndexes: local ? await readKeyEventIndexes(o.data as string) : [],
        });
      } finally {
        await source.close();
      }
    },
  );
}

/** What else a bundle carries (the source already refused a checkpoint short of --witness). */
export interface ExportExtras {
  /** Log indexes of the log's KeyEvents, proven in the bundle beside the entries. */
  keyEventIndexes?: readonly number[];
}

/** Writes the bundle of `filter`'s matches to `output` (a file, or - for stdout); shared with kubectl trail. */
export async function exportBundle(
  source: ReadSource,
  filter: RawFilter,
  limit: string | undefined,
  total: number,
  output: string,
  extras: ExportExtras = {},
): Promise<void> {
  const toFile = output !== "-";
  const out: Writable = toFile ? createWriteStream(output) : process.stdout;
  try {
    const listing = source.list(filter, { total, proofs: true });
    const { count, gone } = await writeBundle(listing, describeQuery(filter, limit), out, (cp) =>
      bundleExtras(source, cp, extras),
    );
    if (toFile) {
      out.end();
      await finished(out);
      process.stderr.write(
        `wrote ${count} entries proven against checkpoint size ${listing.checkpoint().size} to ${output}` +
          (gone > 0 ? ` (${gone} pruned or erased entries left out)` : "") +
          (listing.more() ? ` (more match: raise --limit, or --limit all)` : "") +
          "\n",
      );
    }
  } finally {
    if (toFile && !out.writableEnded) out.destroy();
  }
}

/** Writes the bundle as its pages arrive (same document as JSON.stringify(bundle, null, 2)). */
export async function writeBundle(
  listing: Listing,
  query: RawFilter,
  out: Writable,
  keyEventsFor: (cp: TrustedCheckpoint) => Promise<BundleEntry[]> = async () => [],
): Promise<{ count: number; gone: number }> {
  let count = 0;
  let gone = 0;
  let started = false;
  for await (const page of listing.pages()) {
    if (!started) {
      const cp = listing.checkpoint();
      const header = JSON.stringify(bundleHeader(cp, query, new Date(), await keyEventsFor(cp)), null, 2);
      await writeOut(out, `${header.slice(0, -2)},\n  "entries": [`);
      started = true;
    }
    let text = "";
    for (const e of page.entries) {
      // Pruned or erased entries have no bytes to prove: left out, and counted.
      if (e.gone !== undefined) {
        gone++;
        continue;
      }
      if (!("proof" in e)) throw new Error(`entry ${e.row.idx}: no inclusion proof`);
      const item = JSON.stringify(bundleEntry(e.row.idx, e.data, e.proof), null, 2).replace(/^/gm, "    ");
      text += (count === 0 ? "\n" : ",\n") + item;
      count++;
    }
    await writeOut(out, text);
  }
  await writeOut(out, count === 0 ? "]\n}\n" : "\n  ]\n}\n");
  return { count, gone };
}

/** The log's KeyEvents proven against the bundle's checkpoint, once it is known. */
async function bundleExtras(
  source: ReadSource,
  cp: TrustedCheckpoint,
  extras: ExportExtras,
): Promise<BundleEntry[]> {
  const events: BundleEntry[] = [];
  for (const index of extras.keyEventIndexes ?? []) {
    if (index >= cp.size) continue;
    const { entry, checkpoint } = await source.entry(index);
    // Proven against another checkpoint (the log grew meanwhile), it would not check in this bundle.
    if (checkpoint.size !== cp.size || entry.gone !== undefined) continue;
    events.push(bundleEntry(index, entry.data, entry.proof));
  }
  return events;
}

/** The filters as given (filter names, as the API takes them), recorded in the bundle. */
export function describeQuery(filter: RawFilter, limit: string | undefined): RawFilter {
  return { ...filter, ...(limit === undefined ? {} : { limit: [limit] }) };
}
