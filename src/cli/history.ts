// `kubetrail history KIND/NAME [-n NS]`: who changed one object, how, and what they changed.
import type { Command } from "commander";
import { formatChange } from "../index/diff.js";
import { objectHistory } from "../index/history.js";
import { parseKindName } from "../index/kinds.js";
import { eventItem } from "../index/present.js";
import { openCliSession } from "./output/session.js";
import { CliError } from "./errors.js";
import { usageError } from "./output/filter-options.js";
import { formatMachine, parseOutputFormat, USAGE_EXIT } from "./output/format.js";
import { tableLines } from "./output/table.js";

const HEADERS = ["TIME", "USER", "VERB", "SUBRESOURCE", "CODE", "SOURCE", "USER-AGENT"];

export function registerHistory(program: Command): void {
  program
    .command("history")
    .argument("<object>", "KIND/NAME, e.g. deployment/web, cm/app-config, deployments.apps/web")
    .description("every change to one object, oldest first, with who, how and the request diff")
    .requiredOption("--data <dir>", "data directory")
    .option("-n, --namespace <ns>", "namespace of the object (omit for cluster-scoped objects)")
    .option("--since <duration>", "only the last 15m, 24h, 7d, …")
    .option("--limit <n>", "at most this many changes", "1000")
    .option("-o, --output <format>", "table, wide, json, jsonl or yaml", "table")
    .action(
      async (
        object: string,
        o: { data: string; namespace?: string; since?: string; limit: string; output: string },
      ) => {
        const format = parseOutputFormat(o.output);
        if (!/^[1-9]\d*$/.test(o.limit))
          throw new CliError(`--limit: "${o.limit}" is not a positive whole number`, USAGE_EXIT);
        let target;
        try {
          target = parseKindName(object);
        } catch (err) {
          usageError(err);
        }
        const session = await openCliSession(o.data);
        try {
          const items = await objectHistory(
            session.index,
            session.log,
            {
              ...target,
              limit: Number(o.limit),
              ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
              ...(o.since === undefined ? {} : { since: o.since }),
            },
            Date.now() * 1000,
          ).catch(usageError);
          if (format === "table" || format === "wide") {
            if (items.length === 0) {
              process.stdout.write(
                `No changes to ${object}${o.namespace ? ` in namespace ${o.namespace}` : ""} found.\n`,
              );
              return;
            }
            const lines = tableLines(
              HEADERS,
              items.map(({ entry: { row: r } }) => [
                r.time ?? "-",
                r.user ?? "-",
                r.verb ?? "-",
                r.subresource ?? "-",
                r.code === null ? "-" : String(r.code),
                r.sourceIPs.join(",") || "-",
                r.userAgent ?? "-",
              ]),
            );
            const out = [lines[0]];
            items.forEach((item, i) => {
              out.push(lines[i + 1]);
              if (item.changes === undefined) return;
              const shown = format === "wide" ? item.changes : item.changes.slice(0, 20);
              if (item.body === "patch") out.push("    patch:");
              for (const c of shown) out.push(`    ${formatChange(c)}`);
              if (shown.length < item.changes.length)
                out.push(`    … ${item.changes.length - shown.length} more (-o wide)`);
            });
            process.stdout.write(out.join("\n") + "\n");
          } else {
            process.stdout.write(
              formatMachine(format, {
                object,
                items: items.map((it) => ({
                  ...eventItem(it.entry),
                  ...(it.changes ? { body: it.body, changes: it.changes } : {}),
                })),
              }),
            );
          }
        } finally {
          session.close();
        }
      },
    );
}
