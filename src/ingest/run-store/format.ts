// The layout of a run file: one immutable, sorted set of dedupe records, with what a reader
// needs to find a key without reading the records (the first key of each block, a Bloom filter)
// and checksums that tell a truncated or damaged file from a good one.
//
//   header   64 bytes: magic, record count, filter size, filter probes, SHA-256 of the records
//   records  count × 40 bytes, sorted by (fingerprint, hash), no two equal (RecordTable's layout)
//   fences   one 8-byte fingerprint per block of BLOCK_RECORDS records: the block's first
//   filter   filterBlocks × 64 bytes (see filter.ts)
//   trailer  SHA-256 of header ‖ fences ‖ filter, so opening checks those without the records
import { RECORD_BYTES } from "../record-table.js";

export const MAGIC = Buffer.from("ktdedup1", "latin1");
export const HEADER_BYTES = 64;
export const TRAILER_BYTES = 32;
/** Records per block: a lookup reads one block (4,080 bytes, about a page). */
export const BLOCK_RECORDS = 102;
export const BLOCK_BYTES = BLOCK_RECORDS * RECORD_BYTES;
export const FENCE_BYTES = 8;

/** What a run's header says. */
export interface RunHeader {
  records: number;
  filterBlocks: number;
  probes: number;
  /** SHA-256 of the records section. */
  recordsDigest: Buffer;
}

export function encodeHeader(h: RunHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(h.records), 8);
  b.writeUInt32BE(h.filterBlocks, 16);
  b.writeUInt32BE(h.probes, 20);
  h.recordsDigest.copy(b, 24);
  return b;
}

/** The header's fields, or a reason it is not a run file's header. */
export function decodeHeader(b: Buffer): RunHeader | string {
  if (b.length < HEADER_BYTES || !b.subarray(0, MAGIC.length).equals(MAGIC)) return "not a run file";
  const records = b.readBigUInt64BE(8);
  if (records > BigInt(Number.MAX_SAFE_INTEGER)) return "record count out of range";
  return {
    records: Number(records),
    filterBlocks: b.readUInt32BE(16),
    probes: b.readUInt32BE(20),
    recordsDigest: Buffer.from(b.subarray(24, 56)),
  };
}

export function blocksOf(records: number): number {
  return Math.ceil(records / BLOCK_RECORDS);
}

/** Where each section starts, and the file's size. */
export function sectionsOf(h: Pick<RunHeader, "records" | "filterBlocks">): {
  fences: number;
  filter: number;
  trailer: number;
  size: number;
} {
  const fences = HEADER_BYTES + h.records * RECORD_BYTES;
  const filter = fences + blocksOf(h.records) * FENCE_BYTES;
  const trailer = filter + h.filterBlocks * 64;
  return { fences, filter, trailer, size: trailer + TRAILER_BYTES };
}

/**
 * Records sort by fingerprint (unsigned, high half first), then hash. Callers compare the
 * fingerprints as numbers they already hold and call this only for equal ones: a native compare
 * per record costs more than a sort's or a merge's own work.
 */
export function compareHashes(a: Buffer, ai: number, b: Buffer, bi: number): number {
  return a.compare(b, bi + 8, bi + RECORD_BYTES, ai + 8, ai + RECORD_BYTES);
}

/** Orders the fingerprint (hi, lo) against the record at `b[bi]`'s. */
export function compareKey(hi: number, lo: number, b: Buffer, bi: number): number {
  return hi - b.readUInt32BE(bi) || lo - b.readUInt32BE(bi + 4);
}
