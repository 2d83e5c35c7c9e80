// `kubetrail history KIND/NAME [-n NS]`: who changed one object, how, and what they changed.
// Without -n, same-named objects in different namespaces are shown one after the other, each
// with its namespace and its own diffs.
import type { Command } from "commander";
import { formatChange } from "../index/diff.js";
import { historyFilter, objectHistories, type ObjectHistory } from "../index/history.js";
import { parseKindName } from "../index/kinds.js";
import { eventItem, resourceLabel } from "../index/present.js";
import type { ResolvedEntry } from "../index/resolve.js";
import { ADMISSION_DECISION } from "../index/row.js";
import { parseFilter } from "../index/query.js";
import { parseTotal, usageError } from "./output/filter-options.js";
import { formatMachine, parseOutputFormat, type OutputFormat } from "./output/format.js";
import { addSourceOptions, openSource, sourceKind, type SourceFlags } from "./output/source-options.js";
import { tableLines } from "./output/table.js";
import type { ReadSource } from "../client/source.js";

const HEADERS = ["TIME", "USER", "VERB", "SUBRESOURCE", "CODE", "SOURCE", "USER-AGENT"];

export interface HistoryFlags extends SourceFlags {
  namespace?: string;
  since?: string;
  limit?: string;
  output: string;
}

export function registerHistory(program: Command): void {
  const cmd = program
    .command("history")
    .argument("<object>", "KIND/NAME, e.g. deployment/web, deploy/web, cm/app-config, deployments.apps/web")
    .description("every change to one object, oldest first, with who, how and the request diff")
    .option(
      "-n, --namespace <ns>",
      "namespace of the object (default: every namespace, each object shown apart)",
    )
    .option("--since <duration>", "only the last 15m, 24h, 7d, …")
    .option(
      "--limit <n>",
      "at most this many changes (default 1000; 0 or all: every one, held in memory to group them by object)",
    )
    .option("-o, --output <format>", "table, wide, json, jsonl or yaml", "table");
  addSourceOptions(cmd).action(async (object: string, o: HistoryFlags) => {
    const format = parseOutputFormat(o.output);
    const total = parseTotal(o.limit, 1000);
    sourceKind(o);
    const source = await openSource(o);
    try {
      process.stdout.write(await historyText(source, object, { ...o, format, total }));
    } finally {
      await source.close();
    }
  });
}

/** The history of KIND/NAME from `source`, rendered; shared with `kubectl trail history`. */
export async function historyText(
  source: ReadSource,
  object: string,
  o: { namespace?: string; since?: string; total: number; format: OutputFormat },
): Promise<string> {
  let target;
  try {
    target = parseKindName(object);
  } catch (err) {
    usageError(err);
  }
  const filter = historyFilter({
    ...target,
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    ...(o.since === undefined ? {} : { since: o.since }),
  });
  try {
    parseFilter(filter);
  } catch (err) {
    usageError(err);
  }
  const entries: ResolvedEntry[] = [];
  for await (const page of source.list(filter, { total: o.total }).pages()) entries.push(...page.entries);
  const objects = objectHistories(entries);
  if (o.format !== "table" && o.format !== "wide") {
    return formatMachine(o.format, {
      object,
      items: objects.flatMap((h) =>
        h.items.map((it) => ({
          namespace: h.namespace,
          ...eventItem(it.entry),
          ...(it.changes ? { body: it.body, changes: it.changes } : {}),
        })),
      ),
    });
  }
  if (objects.length === 0)
    return `No changes to ${object}${o.namespace ? ` in namespace ${o.namespace}` : ""} found.\n`;
  // One object asked for by namespace (or cluster-scoped): the table alone, as before.
  const headed = objects.length > 1 || (o.namespace === undefined && objects[0]?.namespace !== null);
  return objects
    .map((h) => (headed ? heading(h, target.name) : "") + historyTable(h, o.format === "wide"))
    .join("\n");
}

function heading(h: ObjectHistory, name: string): string {
  const first = h.items[0]?.entry.row;
  const kind = first === undefined ? "" : resourceLabel({ ...first, subresource: null });
  return `${kind}/${name}${h.namespace === null ? " (cluster-scoped)" : ` in namespace ${h.namespace}`}:\n`;
}

function historyTable(h: ObjectHistory, wide: boolean): string {
  const lines = tableLines(
    HEADERS,
    h.items.map(({ entry: { row: r } }) => [
      r.time ?? "-",
      r.user ?? "-",
      r.verb ?? "-",
      r.subresource ?? "-",
      r.kind === ADMISSION_DECISION
        ? `admission:${r.decision ?? "-"}`
        : r.code === null
          ? "-"
          : String(r.code),
      r.sourceIPs.join(",") || "-",
      r.userAgent ?? "-",
    ]),
  );
  const out = [lines[0]];
  h.items.forEach((item, i) => {
    out.push(lines[i + 1]);
    if (item.changes === undefined) return;
    const shown = wide ? item.changes : item.changes.slice(0, 20);
    if (item.body === "patch") out.push("    patch:");
    for (const c of shown) out.push(`    ${formatChange(c)}`);
    if (shown.length < item.changes.length)
      out.push(`    … ${item.changes.length - shown.length} more (-o wide)`);
  });
  return out.join("\n") + "\n";
}
