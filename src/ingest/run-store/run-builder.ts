// Writes one run file from records handed over in ascending order — a sorted flush, or the
// output of a merge — building its fences, filter and checksums on the way, so the records are
// written once and never read back to index them.
import { createHash, type Hash } from "node:crypto";
import { closeSync, fdatasyncSync, openSync, rmSync } from "node:fs";
import { endianness } from "node:os";
import path from "node:path";
import { writevAllNow } from "../../store/durable-file.js";
import { RECORD_BYTES } from "../record-table.js";
import { filterAdd, FILTER_BLOCK_BYTES, newFilter, PROBES } from "./filter.js";
import {
  BLOCK_RECORDS,
  blocksOf,
  compareHashes,
  encodeHeader,
  FENCE_BYTES,
  HEADER_BYTES,
  sectionsOf,
} from "./format.js";
import type { RunView } from "./run-view.js";

/** Records written per system call. */
const CHUNK_RECORDS = 4096;

export class RunBuilder {
  private readonly fd: number;
  private readonly chunk = Buffer.allocUnsafe(CHUNK_RECORDS * RECORD_BYTES);
  private used = 0;
  /** The last record added, once the chunk holding it has been written. */
  private readonly last = Buffer.alloc(RECORD_BYTES);
  private records = 0;
  private lastHi = 0;
  private lastLo = 0;
  private readonly digest: Hash = createHash("sha256");
  private readonly fences: Buffer;
  private readonly filter: Uint32Array;

  /**
   * Creates `dir/name`, for at most `maxRecords` records (the filter is sized to it). Each key
   * is also added to the filters `alsoInto` (the store-wide filter).
   */
  constructor(
    private readonly dir: string,
    readonly name: string,
    private readonly maxRecords: number,
    private readonly alsoInto: readonly Uint32Array[] = [],
  ) {
    this.fd = openSync(path.join(dir, name), "wx");
    this.fences = Buffer.from(new SharedArrayBuffer(blocksOf(maxRecords) * FENCE_BYTES));
    this.filter = newFilter(maxRecords);
  }

  /** Adds the record at `src[at]`; a record equal to the previous one is dropped. */
  add(src: Buffer, at: number): void {
    const hi = src.readUInt32BE(at);
    const lo = src.readUInt32BE(at + 4);
    if (this.records > 0) {
      const order =
        hi - this.lastHi ||
        lo - this.lastLo ||
        (this.used > 0
          ? compareHashes(src, at, this.chunk, this.used - RECORD_BYTES)
          : compareHashes(src, at, this.last, 0));
      if (order === 0) return;
      if (order < 0) throw new Error(`run ${this.name}: records out of order at ${this.records}`);
    }
    if (this.records === this.maxRecords)
      throw new Error(`run ${this.name}: more than ${this.maxRecords} records`);
    if (this.records % BLOCK_RECORDS === 0)
      src.copy(this.fences, (this.records / BLOCK_RECORDS) * FENCE_BYTES, at, at + FENCE_BYTES);
    filterAdd(this.filter, hi, lo);
    for (const f of this.alsoInto) filterAdd(f, hi, lo);
    this.lastHi = hi;
    this.lastLo = lo;
    src.copy(this.chunk, this.used, at, at + RECORD_BYTES);
    this.used += RECORD_BYTES;
    this.records++;
    if (this.used === this.chunk.length) this.writeChunk();
  }

  /** Writes what is left, the index and checksums, and syncs the file: it is complete on disk. */
  finish(): RunView {
    try {
      this.writeChunk();
      const filterBlocks = this.filter.length / (FILTER_BLOCK_BYTES / 4);
      const header = encodeHeader({
        records: this.records,
        filterBlocks,
        probes: PROBES,
        recordsDigest: this.digest.digest(),
      });
      const at = sectionsOf({ records: this.records, filterBlocks });
      const fences = this.fences.subarray(0, blocksOf(this.records) * FENCE_BYTES);
      const filter = filterBytesLE(this.filter);
      const trailer = createHash("sha256").update(header).update(fences).update(filter).digest();
      // The three sections after the records lie end to end: one write.
      writevAllNow(this.fd, [fences, filter, trailer], at.fences);
      writevAllNow(this.fd, [header], 0);
      fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
    const fences = new SharedArrayBuffer(blocksOf(this.records) * FENCE_BYTES);
    Buffer.from(fences).set(this.fences.subarray(0, fences.byteLength));
    return {
      name: this.name,
      records: this.records,
      fences,
      filter: this.filter.buffer as SharedArrayBuffer,
    };
  }

  /** Closes and removes the unfinished file. */
  abandon(): void {
    closeSync(this.fd);
    rmSync(path.join(this.dir, this.name), { force: true });
  }

  private writeChunk(): void {
    if (this.used === 0) return;
    const data = this.chunk.subarray(0, this.used);
    this.digest.update(data);
    writevAllNow(this.fd, [data], HEADER_BYTES + (this.records * RECORD_BYTES - this.used));
    this.chunk.copy(this.last, 0, this.used - RECORD_BYTES, this.used);
    this.used = 0;
  }
}

/** The filter as stored: 32-bit little-endian words, whatever this machine's byte order. */
function filterBytesLE(words: Uint32Array): Buffer {
  const bytes = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  return endianness() === "LE" ? bytes : Buffer.from(bytes).swap32();
}
