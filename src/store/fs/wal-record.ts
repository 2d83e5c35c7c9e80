// Records of the write-ahead log (see write-ahead-log.ts): pure encoding, decoding and the
// choice of which records a recovery replays.
//
// A record is a 40-byte header followed by the entries of (part of) one commit as bundle
// lines, each entry followed by "\n". Header fields, little-endian:
//
//   0  magic "KTW1"            4  CRC-32 of bytes 8–39
//   8  seq    u64: order of writing, increasing over the life of the log
//   16 first  u64: log index of the record's first entry
//   24 count  u32: entries         28 length u32: payload bytes
//   32 CRC-32 of the payload       36 zero
//
// The header has its own checksum so that a recovery can skip records it does not need
// without reading their payloads.
import { crc32 } from "node:zlib";

export const RECORD_HEADER_BYTES = 40;
const MAGIC = 0x3157544b; // "KTW1" read as a little-endian u32

export interface RecordHeader {
  seq: number;
  first: number;
  count: number;
  /** Payload bytes after the header. */
  length: number;
  payloadCrc: number;
}

/** The header of a record holding `count` entries (as bundle lines in `payload`). */
export function encodeRecordHeader(seq: number, first: number, count: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  h.writeUInt32LE(MAGIC, 0);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeBigUInt64LE(BigInt(first), 16);
  h.writeUInt32LE(count, 24);
  h.writeUInt32LE(payload.length, 28);
  h.writeUInt32LE(crc32(payload), 32);
  h.writeUInt32LE(crc32(h.subarray(8)), 4);
  return h;
}

/**
 * The header at the start of `bytes`, or null when there is none: too short, another
 * magic (zeroed preallocated space), a checksum mismatch (torn or stale bytes), or values
 * no writer produces.
 */
export function decodeRecordHeader(bytes: Uint8Array): RecordHeader | null {
  if (bytes.length < RECORD_HEADER_BYTES) return null;
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, RECORD_HEADER_BYTES);
  if (h.readUInt32LE(0) !== MAGIC || h.readUInt32LE(4) !== crc32(h.subarray(8))) return null;
  const seq = h.readBigUInt64LE(8);
  const first = h.readBigUInt64LE(16);
  const count = h.readUInt32LE(24);
  const length = h.readUInt32LE(28);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (seq > max || first > max || count === 0 || length < 2 * count) return null;
  return { seq: Number(seq), first: Number(first), count, length, payloadCrc: h.readUInt32LE(32) };
}

/** Whether `payload` is the record's payload as written (not torn, not overwritten). */
export function payloadMatches(header: RecordHeader, payload: Uint8Array): boolean {
  return payload.length === header.length && crc32(payload) === header.payloadCrc;
}

/** Entries [start, end) of the log, to be taken from `record` (whose first is ≤ start). */
export interface ReplayStep<R extends RecordHeader> {
  record: R;
  start: number;
  end: number;
}

/**
 * Which entries of which records extend a log of `from` durable entries, in log order,
 * given every record header found in the write-ahead log (a caller that finds a step's
 * payload torn stops there: it was the last write before a crash).
 *
 * The records are replayed in the order they were written (seq), each one replacing
 * everything written before it from its first index on: the writer writes an index again
 * only after the earlier write there failed and was never acknowledged. That holds for
 * every record, also for those that add nothing beyond `from`: a rewrite that was released
 * must still cut off the failed write it replaced, and records left over in reused space
 * are older than anything that matters. What follows `from` without a gap is replayed.
 */
export function replaySteps<R extends RecordHeader>(records: readonly R[], from: number): ReplayStep<R>[] {
  // Non-overlapping and sorted by start: a record only ever cuts the tail.
  const held: ReplayStep<R>[] = [];
  for (const record of [...records].sort((a, b) => a.seq - b.seq)) {
    while (held.length > 0 && held[held.length - 1]!.start >= record.first) held.pop();
    const last = held[held.length - 1];
    if (last) last.end = Math.min(last.end, record.first);
    held.push({ record, start: record.first, end: record.first + record.count });
  }
  const steps: ReplayStep<R>[] = [];
  let end = from;
  for (const s of held) {
    if (s.end <= end) continue;
    if (s.start > end) break;
    steps.push({ record: s.record, start: end, end: s.end });
    end = s.end;
  }
  return steps;
}
