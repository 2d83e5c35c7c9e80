// Printing a listing of events as its pages arrive, in every -o format. Machine formats emit
// one item at a time (json and yaml as one document whose `metadata` comes after `items`,
// since whether more matches exist is known only at the end); tables are aligned page by page.
import type { Writable } from "node:stream";
import YAML from "yaml";
import { eventItem } from "../../index/present.js";
import type { Listing } from "../../client/source.js";
import type { OutputFormat } from "./format.js";
import { narrowCells, NARROW, WIDE, wideCells } from "./events.js";
import { columnWidths, tableLines } from "./table.js";
import { writeOut } from "./write-out.js";

/** Indents every non-empty line of `text` by `by`. */
function indent(text: string, by: string): string {
  return text.replace(/^(?=.)/gm, by);
}

/** Streams the listing to `out`; resolves with the number of events written. */
export async function streamEvents(format: OutputFormat, listing: Listing, out: Writable): Promise<number> {
  let count = 0;
  let widths: number[] | undefined;
  const header = format === "wide" ? WIDE : NARROW;
  if (format === "json")
    await writeOut(out, '{\n  "apiVersion": "kubetrail.dev/v1",\n  "kind": "EventList",\n  "items": [');
  if (format === "yaml") await writeOut(out, "apiVersion: kubetrail.dev/v1\nkind: EventList\nitems:");
  for await (const page of listing.pages()) {
    let text = "";
    if (format === "table" || format === "wide") {
      if (page.entries.length === 0) continue;
      const rows = page.entries.map((e) => (format === "wide" ? wideCells(e.row) : narrowCells(e.row)));
      // Columns keep the widths of earlier pages and widen when a later page needs it.
      widths = columnWidths(header, rows, widths);
      const lines = tableLines(header, rows, widths);
      text = (count === 0 ? lines : lines.slice(1)).join("\n") + "\n";
    } else {
      for (const [i, e] of page.entries.entries()) {
        const item = eventItem(e);
        const first = count === 0 && i === 0;
        if (format === "jsonl") text += JSON.stringify(item) + "\n";
        else if (format === "json")
          text += (first ? "\n" : ",\n") + indent(JSON.stringify(item, null, 2), "    ");
        else text += (first ? "\n" : "") + indent(YAML.stringify([item]), "  ");
      }
    }
    count += page.entries.length;
    await writeOut(out, text);
  }
  const more = listing.more();
  const metadata = more === undefined ? {} : { continue: more };
  if (format === "json") {
    const meta = JSON.stringify(metadata, null, 2).replace(/\n/g, "\n  ");
    await writeOut(out, `${count === 0 ? "]" : "\n  ]"},\n  "metadata": ${meta}\n}\n`);
  } else if (format === "yaml") {
    await writeOut(out, `${count === 0 ? " []\n" : ""}${YAML.stringify({ metadata })}`);
  } else if ((format === "table" || format === "wide") && count === 0) {
    await writeOut(out, "No events found.\n");
  }
  return count;
}
