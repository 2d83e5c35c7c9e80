// `kubetrail top user|verb|…`: request counts by one dimension, largest first.
import type { Command } from "commander";
import { TOP_SPELLINGS, parseTopDimension } from "../index/top-dimension.js";
import { addFilterOptions, filterFromOptions, parseTotal, usageError } from "./output/filter-options.js";
import { formatMachine, parseOutputFormat, type OutputFormat } from "./output/format.js";
import type { TopDimension } from "../index/db.js";
import type { RawFilter } from "../index/query.js";
import type { ReadSource } from "../client/source.js";
import { addSourceOptions, openSource, sourceKind, type SourceFlags } from "./output/source-options.js";
import { formatTable } from "./output/table.js";

export function registerTop(program: Command): void {
  const cmd = program
    .command("top")
    .argument("<dimension>", TOP_SPELLINGS)
    .description("count requests by user, verb, resource, namespace, source IP, group or response code")
    .option("-o, --output <format>", "table, json, jsonl or yaml", "table")
    .option(
      "--top <n>",
      "show this many, largest first (default 10; 0 or all: every one, at most 10,000 from a server)",
      "10",
    );
  addSourceOptions(addFilterOptions(cmd, { limit: false, order: false })).action(
    async (text: string, o: Record<string, unknown> & SourceFlags & { output: string; top: string }) => {
      let dimension;
      try {
        dimension = parseTopDimension(text);
      } catch (err) {
        usageError(err);
      }
      const n = parseTotal(o.top, 10, "--top");
      const format = parseOutputFormat(o.output);
      const filter = filterFromOptions(o);
      sourceKind(o);
      const source = await openSource(o);
      try {
        process.stdout.write(await topText(source, dimension, filter, n, format));
      } finally {
        await source.close();
      }
    },
  );
}

/** Counts by `dimension` from `source`, rendered; shared with `kubectl trail top`. */
export async function topText(
  source: ReadSource,
  dimension: TopDimension,
  filter: RawFilter,
  n: number,
  format: OutputFormat,
): Promise<string> {
  // The index answers "all" with one SQL LIMIT: the largest value SQLite takes.
  const counts = await source.top(dimension, filter, Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER);
  if (format === "table" || format === "wide") {
    const header = dimension.replace(/s$/, "").toUpperCase();
    return formatTable(
      [header, "COUNT"],
      counts.map((c) => [c.key, String(c.count)]),
    );
  }
  return formatMachine(format, { dimension, items: counts });
}
