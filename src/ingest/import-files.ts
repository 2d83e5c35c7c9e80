// Backfill from the log backend's files: every line becomes an event through the same pipeline as
// the webhook (so re-imports and webhook-delivered events dedupe), in batches, in file time order.
import type { AuditEvent } from "../audit/types.js";
import { readAuditFileLines, type FileLine } from "./audit-file.js";
import { IngestError } from "./errors.js";
import { receiveEventLine, type ReceivedEvents } from "./normalize.js";
import type { IngestPipeline, IngestResult } from "./pipeline.js";

export interface RejectedLine {
  file: string;
  line: number;
  reason: string;
}

export interface ImportSummary {
  files: number;
  /** Lines read (blank lines excluded). */
  read: number;
  stored: number;
  duplicates: number;
  conflicts: number;
  dropped: number;
  rejectedCount: number;
  /** The first MAX_REJECTED_LISTED rejected lines (a garbage file must not fill memory). */
  rejected: RejectedLine[];
}

export const MAX_REJECTED_LISTED = 1000;

export interface ImportOptions {
  /** Events per pipeline call. */
  batchSize?: number;
  onBytes?: (n: number) => void;
  /** Told after each batch is durable. */
  onBatch?: (result: IngestResult) => void;
}

export function emptySummary(): ImportSummary {
  return {
    files: 0,
    read: 0,
    stored: 0,
    duplicates: 0,
    conflicts: 0,
    dropped: 0,
    rejectedCount: 0,
    rejected: [],
  };
}

export function addResult(
  summary: ImportSummary,
  r: Pick<IngestResult, "stored" | "duplicates" | "conflicts" | "dropped">,
): void {
  summary.stored += r.stored;
  summary.duplicates += r.duplicates;
  summary.conflicts += r.conflicts;
  summary.dropped += r.dropped;
}

/** Adds everything another import counted (a rotated file imported whole while following). */
export function mergeSummary(into: ImportSummary, from: ImportSummary): void {
  into.files += from.files;
  into.read += from.read;
  addResult(into, from);
  into.rejectedCount += from.rejectedCount;
  into.rejected.push(...from.rejected.slice(0, MAX_REJECTED_LISTED - into.rejected.length));
}

/**
 * Turns text lines into events, recording rejected lines (by file and line number) instead of
 * failing the import: one bad line must not stop a backfill.
 */
export function parseLines(file: string, lines: FileLine[], summary: ImportSummary): ReceivedEvents {
  const events: AuditEvent[] = [];
  const entries: (Uint8Array | undefined)[] = [];
  for (const { line, text, bytes, badEncoding } of lines) {
    summary.read++;
    try {
      if (badEncoding) throw new IngestError("bad_encoding", "line is not valid UTF-8");
      const { event, entry } = receiveEventLine(text, `${file}:${line}`, bytes);
      events.push(event);
      entries.push(entry);
    } catch (err) {
      if (!(err instanceof IngestError)) throw err;
      summary.rejectedCount++;
      const where = `${file}:${line}: `;
      const reason = err.message.startsWith(where) ? err.message.slice(where.length) : err.message;
      if (summary.rejected.length < MAX_REJECTED_LISTED) summary.rejected.push({ file, line, reason });
    }
  }
  return { events, entries };
}

/** Imports `files` in the order given; resolves when everything stored is durable. */
export async function importFiles(
  files: readonly string[],
  pipeline: IngestPipeline,
  opts: ImportOptions = {},
): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 400;
  const summary = emptySummary();
  const flush = async (file: string, lines: FileLine[]): Promise<void> => {
    const { events, entries } = parseLines(file, lines, summary);
    if (events.length === 0) return;
    const r = await pipeline.ingest(events, entries);
    addResult(summary, r);
    opts.onBatch?.(r);
  };
  for (const file of files) {
    summary.files++;
    let lines: FileLine[] = [];
    for await (const l of readAuditFileLines(file, opts.onBytes)) {
      lines.push(l);
      if (lines.length >= batchSize) {
        await flush(file, lines);
        lines = [];
      }
    }
    await flush(file, lines);
  }
  return summary;
}
