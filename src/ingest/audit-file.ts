// Reading the log backend's files: plain or gzip (detected by magic bytes, not only the name),
// line by line with line numbers, counting raw bytes for progress. Lines of several hundred KB
// are normal (RequestResponse on large objects).
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

export interface FileLine {
  /** 1-based line number in the (decompressed) file. */
  line: number;
  text: string;
  /** The line's bytes as read (without the line break). */
  bytes?: Uint8Array;
  /** The line's bytes are not valid UTF-8 (then `text` is empty). */
  badEncoding?: boolean;
}

/** Lines of `file` (blank lines skipped); `onBytes` is told how many raw file bytes were read. */
export async function* readAuditFileLines(
  file: string,
  onBytes?: (n: number) => void,
): AsyncGenerator<FileLine> {
  const gzip = await isGzipFile(file);
  // Created only now: the byte counter's "data" listener starts the flow, and nothing may be lost.
  const raw = createReadStream(file);
  if (onBytes) raw.on("data", (chunk: Buffer | string) => onBytes(chunk.length));
  let input: Readable = raw;
  if (gzip) {
    const gunzip = createGunzip();
    raw.on("error", (err) => gunzip.destroy(err));
    input = raw.pipe(gunzip);
  }
  let line = 0;
  let rest = Buffer.alloc(0);
  try {
    // Split on raw bytes (not readline's decoded text) so invalid UTF-8 is seen, not replaced.
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
        line++;
        const l = decodeLine(data.subarray(start, nl), line);
        if (l) yield l;
        start = nl + 1;
      }
      rest = Buffer.from(data.subarray(start));
    }
    if (rest.length > 0) {
      const l = decodeLine(rest, ++line);
      if (l) yield l;
    }
  } finally {
    raw.destroy();
  }
}

/**
 * One line as text; a line that is not valid UTF-8 comes back with `badEncoding` (its text would
 * differ from the bytes written). Blank lines give undefined. A trailing CR is dropped.
 */
export function decodeLine(bytes: Buffer, line: number): FileLine | undefined {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  const b = bytes.subarray(0, end);
  if (!isUtf8(b)) return { line, text: "", badEncoding: true };
  const text = b.toString("utf8");
  return text.trim() === "" ? undefined : { line, text, bytes: b };
}

/** The first stageTimestamp in the file, for ordering files; undefined when none is readable. */
export async function firstTimestamp(file: string): Promise<string | undefined> {
  let seen = 0;
  for await (const { text } of readAuditFileLines(file)) {
    try {
      const ev = JSON.parse(text) as { stageTimestamp?: unknown; requestReceivedTimestamp?: unknown };
      const ts = ev.stageTimestamp ?? ev.requestReceivedTimestamp;
      if (typeof ts === "string") return ts;
    } catch {
      // an unreadable first line is reported by the import itself; look further for ordering
    }
    if (++seen >= 10) return undefined;
  }
  return undefined;
}
