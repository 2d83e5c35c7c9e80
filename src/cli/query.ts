// `kubetrail query`: who did what, when, to which object, answered from the index and the log.
import type { Command } from "commander";
import { resolveEntries } from "../index/resolve.js";
import { openCliSession } from "./output/session.js";
import { addFilterOptions, filterFromOptions } from "./output/filter-options.js";
import { parseOutputFormat } from "./output/format.js";
import { renderEvents } from "./output/events.js";

export function registerQuery(program: Command): void {
  const cmd = program
    .command("query")
    .description("list audit events matching filters (AND across filters, OR within a repeated one)")
    .requiredOption("--data <dir>", "data directory")
    .option("-o, --output <format>", "table, wide, json, jsonl or yaml", "table");
  addFilterOptions(cmd).action(async (o: Record<string, unknown> & { data: string; output: string }) => {
    const format = parseOutputFormat(o.output);
    const filter = filterFromOptions(o);
    const session = await openCliSession(o.data);
    try {
      filter.logSize = session.log.size();
      const found = session.index.search(filter, Date.now() * 1000);
      const entries = await resolveEntries(session.log, found.rows);
      process.stdout.write(renderEvents(format, entries, found.next));
    } finally {
      session.close();
    }
  });
}
