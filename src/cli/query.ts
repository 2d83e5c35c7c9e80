// `kubetrail query`: who did what, when, to which object — from a data directory or a server.
import type { Command } from "commander";
import { addFilterOptions, filterFromOptions, parseTotal } from "./output/filter-options.js";
import { parseOutputFormat } from "./output/format.js";
import { streamEvents } from "./output/event-stream.js";
import { addSourceOptions, openSource, sourceKind, type SourceFlags } from "./output/source-options.js";

export const DEFAULT_QUERY_LIMIT = 100;

export function registerQuery(program: Command): void {
  const cmd = program
    .command("query")
    .description("list audit events matching filters (AND across filters, OR within a repeated one)")
    .option("-o, --output <format>", "table, wide, json, jsonl or yaml", "table");
  addSourceOptions(addFilterOptions(cmd)).action(
    async (o: Record<string, unknown> & SourceFlags & { output: string; limit?: string }) => {
      const format = parseOutputFormat(o.output);
      const filter = filterFromOptions(o);
      const total = parseTotal(o.limit, DEFAULT_QUERY_LIMIT);
      sourceKind(o);
      const source = await openSource(o);
      try {
        await streamEvents(format, source.list(filter, { total }), process.stdout);
      } finally {
        await source.close();
      }
    },
  );
}
