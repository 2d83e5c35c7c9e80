// `kubetrail top users|verbs|…`: request counts by one dimension, largest first.
import type { Command } from "commander";
import { TOP_DIMENSIONS, type TopDimension } from "../index/db.js";
import { openCliSession } from "./output/session.js";
import { CliError } from "./errors.js";
import { addFilterOptions, filterFromOptions } from "./output/filter-options.js";
import { formatMachine, parseOutputFormat, USAGE_EXIT } from "./output/format.js";
import { formatTable } from "./output/table.js";

export function registerTop(program: Command): void {
  const cmd = program
    .command("top")
    .argument("<dimension>", TOP_DIMENSIONS.join("|"))
    .description("count requests by user, verb, resource, namespace or source IP")
    .requiredOption("--data <dir>", "data directory")
    .option("-o, --output <format>", "table, json, jsonl or yaml", "table")
    .option("--top <n>", "show this many (default 10)", "10");
  addFilterOptions(cmd, { limit: false, order: false }).action(
    async (dimension: string, o: Record<string, unknown> & { data: string; output: string; top: string }) => {
      if (!(TOP_DIMENSIONS as readonly string[]).includes(dimension)) {
        throw new CliError(`unknown dimension "${dimension}" (use ${TOP_DIMENSIONS.join(", ")})`, USAGE_EXIT);
      }
      if (!/^[1-9]\d*$/.test(o.top))
        throw new CliError(`--top: "${o.top}" is not a positive whole number`, USAGE_EXIT);
      const format = parseOutputFormat(o.output);
      const filter = filterFromOptions(o);
      const session = await openCliSession(o.data);
      try {
        filter.logSize = session.log.size();
        const counts = session.index.top(dimension as TopDimension, filter, Date.now() * 1000, Number(o.top));
        if (format === "table" || format === "wide") {
          const header = dimension.replace(/s$/, "").toUpperCase();
          process.stdout.write(
            formatTable(
              [header, "COUNT"],
              counts.map((c) => [c.key, String(c.count)]),
            ),
          );
        } else {
          process.stdout.write(formatMachine(format, { dimension, items: counts }));
        }
      } finally {
        session.close();
      }
    },
  );
}
