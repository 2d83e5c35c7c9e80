// The columns of event tables, shared by query (streamed page by page) and history.
import { objectLabel, resourceLabel } from "../../index/present.js";
import { ADMISSION_DECISION, type IndexRow } from "../../index/row.js";

export const NARROW = ["TIME", "USER", "VERB", "RESOURCE", "NAMESPACE/NAME", "CODE"];
export const WIDE = [
  ...NARROW,
  "STAGE",
  "DECISION",
  "SOURCE",
  "IMPERSONATING",
  "AUDIT-ID",
  "INDEX",
  "USER-AGENT",
];

export function cell(v: string | number | null | undefined): string {
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

export function wideCells(r: IndexRow): string[] {
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
