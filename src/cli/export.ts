// `kubetrail export [filters] -o bundle.json`: matching entries with inclusion proofs against
// one signed checkpoint, for an auditor to check with `verify-bundle`. Streamed: any number of
// entries is written a page at a time.
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Command } from "commander";
import { bundleEntry, bundleHeader } from "../index/evidence.js";
import type { RawFilter } from "../index/query.js";
import type { Listing } from "../client/source.js";
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
      sourceKind(o);
      const source = await openSource(o);
      const toFile = o.output !== "-";
      const out: Writable = toFile ? createWriteStream(o.output) : process.stdout;
      try {
        const listing = source.list(filter, { total, proofs: true });
        const count = await writeBundle(listing, describeQuery(o), out);
        if (toFile) {
          out.end();
          await finished(out);
          process.stderr.write(
            `wrote ${count} entries proven against checkpoint size ${listing.checkpoint().size} to ${o.output}` +
              (listing.more() ? ` (more match: raise --limit, or --limit all)` : "") +
              "\n",
          );
        }
      } finally {
        if (toFile && !out.writableEnded) out.destroy();
        await source.close();
      }
    },
  );
}

/** Writes the bundle as its pages arrive (same document as JSON.stringify(bundle, null, 2)). */
async function writeBundle(listing: Listing, query: RawFilter, out: Writable): Promise<number> {
  let count = 0;
  let started = false;
  for await (const page of listing.pages()) {
    if (!started) {
      const header = JSON.stringify(bundleHeader(listing.checkpoint(), query), null, 2);
      await writeOut(out, `${header.slice(0, -2)},\n  "entries": [`);
      started = true;
    }
    let text = "";
    for (const e of page.entries) {
      if (!("proof" in e)) throw new Error(`entry ${e.row.idx}: no inclusion proof`);
      const item = JSON.stringify(bundleEntry(e.row.idx, e.data, e.proof), null, 2).replace(/^/gm, "    ");
      text += (count === 0 ? "\n" : ",\n") + item;
      count++;
    }
    await writeOut(out, text);
  }
  await writeOut(out, count === 0 ? "]\n}\n" : "\n  ]\n}\n");
  return count;
}

/** The filters as given, recorded in the bundle so a reader knows what was asked. */
function describeQuery(o: Record<string, unknown>): RawFilter {
  const skip = new Set([
    "data",
    "output",
    "server",
    "context",
    "tokenFile",
    "ca",
    "clientCert",
    "clientKey",
    "key",
  ]);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(o)) {
    if (skip.has(k) || v === undefined) continue;
    const values = Array.isArray(v) ? v.map(String) : [String(v)];
    if (values.length > 0) out[k] = values;
  }
  return out as RawFilter;
}
