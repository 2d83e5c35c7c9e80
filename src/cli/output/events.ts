// Printing query answers in every -o format.
import type { Cursor } from "../../index/query.js";
import { eventList, objectLabel, resourceLabel } from "../../index/present.js";
import type { ResolvedEntry } from "../../index/resolve.js";
import { ADMISSION_DECISION, type IndexRow } from "../../index/row.js";
import { formatMachine, type OutputFormat } from "./format.js";
import { formatTable } from "./table.js";

const NARROW = ["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE"];
const WIDE = [...NARROW, "STAGE", "DECISION", "SOURCE", "IMPERSONATING", "AUDIT-ID", "INDEX", "USER-AGENT"];

function cell(v: string | number | null | undefined): string {
  return v === null || v === undefined || v === "" ? "-" : String(v);
}

/** The narrow columns, with the time exactly as recorded (MicroTime keeps its microseconds). */
export function narrowCells(r: IndexRow): string[] {
  return [
    cell(r.time),
    cell(r.user),
    cell(r.verb),
    cell(resourceLabel(r)),
    cell(objectLabel(r)),
    // An admission decision has no response code: its result (allow, deny, warn, audit) instead.
    cell(r.kind === ADMISSION_DECISION ? r.decision : r.code),
  ];
}

function wideCells(r: IndexRow): string[] {
  return [
    ...narrowCells(r),
    cell(r.stage),
    cell(r.decision),
    cell(r.sourceIPs.join(",")),
    cell(r.impersonatedUser),
    cell(r.auditID),
    String(r.idx),
    cell(r.userAgent),
  ];
}

/** Renders query results; `next` becomes metadata.continue in machine formats and a hint in tables. */
export function renderEvents(format: OutputFormat, entries: readonly ResolvedEntry[], next?: Cursor): string {
  if (format === "table" || format === "wide") {
    if (entries.length === 0) return "No events found.\n";
    const wide = format === "wide";
    return formatTable(
      wide ? WIDE : NARROW,
      entries.map((e) => (wide ? wideCells(e.row) : narrowCells(e.row))),
    );
  }
  return formatMachine(format, eventList(entries, next));
}
