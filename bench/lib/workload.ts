// Shared workloads: generated entries as bytes, concurrent appenders, and filling a log or a
// JSON-lines file with the same bytes so every system in a table works on identical data.
import { closeSync, openSync, writeSync } from "node:fs";
import type { AuditEvent } from "../../src/audit/types.js";
import { generateEventLines, generateEvents, toEventList } from "../gen/events.js";
import type { Probe } from "../harness.js";

export interface Entries {
  lines: string[];
  buffers: Buffer[];
  bytes: number;
}

/** The first `count` generated events for `seed` as log entries (one JSON object each). */
export function generatedEntries(seed: number, count: number): Entries {
  const lines: string[] = [];
  const buffers: Buffer[] = [];
  let bytes = 0;
  for (const line of generateEventLines({ seed, count })) {
    const b = Buffer.from(line, "utf8");
    lines.push(line);
    buffers.push(b);
    bytes += b.length;
  }
  return { lines, buffers, bytes };
}

/** Webhook bodies of `batch` generated events each (EventList JSON), as the apiserver posts them. */
export function eventListBodies(
  seed: number,
  count: number,
  batch: number,
): { bodies: Buffer[]; bytes: number } {
  const bodies: Buffer[] = [];
  let pending: AuditEvent[] = [];
  let bytes = 0;
  const flush = () => {
    const body = Buffer.from(JSON.stringify(toEventList(pending)));
    bytes += body.length;
    bodies.push(body);
    pending = [];
  };
  for (const ev of generateEvents({ seed, count })) {
    pending.push(ev);
    if (pending.length === batch) flush();
  }
  if (pending.length > 0) flush();
  return { bodies, bytes };
}

/**
 * `appenders` concurrent clients take the next batch of `batch` entries until all are
 * appended; each call is timed, so latency percentiles include waiting for the group commit.
 */
export async function driveAppenders(
  total: number,
  opts: { appenders: number; batch: number },
  append: (start: number, end: number) => Promise<unknown>,
  probe?: Probe,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const start = next;
      const end = Math.min(total, start + opts.batch);
      next = end;
      if (probe) await probe.time(() => append(start, end));
      else await append(start, end);
    }
  };
  await Promise.all(Array.from({ length: opts.appenders }, worker));
}

/** The entries as one JSON-lines file (the bytes sha256sum and jq read), written in chunks. */
export function writeJsonl(file: string, entries: readonly (string | Uint8Array)[]): void {
  const fd = openSync(file, "w");
  try {
    const CHUNK = 4096;
    for (let i = 0; i < entries.length; i += CHUNK) {
      const parts = entries
        .slice(i, i + CHUNK)
        .flatMap((e) => [typeof e === "string" ? Buffer.from(e) : e, NEWLINE]);
      writeSync(fd, Buffer.concat(parts));
    }
  } finally {
    closeSync(fd);
  }
}

const NEWLINE = Buffer.from("\n");

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}
