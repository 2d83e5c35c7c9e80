// Dedupe records — a key's fingerprint and a content hash — packed 40 bytes each in the layout
// of the dedupe store's run files: the fingerprint's high then low half, big-endian, then the 32
// bytes of the hash, so that byte order is the store's sort order. Records durable in the log
// and not yet written to the store wait in such a table. It holds no object per record, so the tens of thousands waiting
// at any time cost the garbage collector nothing, and an open-addressing index over the
// fingerprints finds a key's hashes without a Map.
import type { ContentHash } from "./dedupe.js";
import type { KeyPrint } from "./key-hash.js";

export const RECORD_BYTES = 8 + 32;
const MIN_CAPACITY = 1024;

export class RecordTable {
  private records: Buffer;
  /** Linear probing from a fingerprint's low half: record index + 1, 0 for an empty slot. */
  private slots: Int32Array;
  private count = 0;
  /** A hash being added, as bytes. */
  private readonly hash = Buffer.alloc(32);

  constructor(capacity = MIN_CAPACITY) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(capacity, MIN_CAPACITY)));
    this.records = Buffer.alloc(size * RECORD_BYTES);
    // Never more than half full, so a probe ends soon.
    this.slots = new Int32Array(size * 2);
  }

  /** Records held. */
  get size(): number {
    return this.count;
  }

  /** Adds (print, hash) unless the table holds it already; says whether it was added. */
  add(print: KeyPrint, hash: ContentHash): boolean {
    if (this.hash.write(hash, "hex") !== 32) throw new RangeError(`not a 32-byte hex hash: ${hash}`);
    return this.addBytes(print.lo, print.hi, this.hash, 0);
  }

  /** Like `add`, with the hash as its 32 bytes (as the log has it), which spares decoding hex. */
  addLeaf(print: KeyPrint, leaf: Uint8Array): boolean {
    if (leaf.length !== 32) throw new RangeError(`not a 32-byte hash: ${leaf.length} bytes`);
    const src = Buffer.isBuffer(leaf) ? leaf : Buffer.from(leaf.buffer, leaf.byteOffset, 32);
    return this.addBytes(print.lo, print.hi, src, 0);
  }

  /** Adds every record of `other` that this table does not hold. */
  addAll(other: RecordTable): void {
    for (let r = 0; r < other.count; r++) {
      const at = r * RECORD_BYTES;
      this.addBytes(
        other.records.readUInt32BE(at + 4),
        other.records.readUInt32BE(at),
        other.records,
        at + 8,
      );
    }
  }

  /** Adds to `found` each hash held for `print` that it lacks, in the order added. */
  collect(print: KeyPrint, found: ContentHash[]): void {
    const mask = this.slots.length - 1;
    for (let i = print.lo & mask; this.slots[i] !== 0; i = (i + 1) & mask) {
      const at = (this.slots[i]! - 1) * RECORD_BYTES;
      if (!this.isPrint(at, print.lo, print.hi)) continue;
      const hash = this.records.toString("hex", at + 8, at + RECORD_BYTES);
      if (!found.includes(hash)) found.push(hash);
    }
  }

  /** The records in the writer's layout, in a buffer of their own (to transfer to the store's writer thread). */
  toRows(): Uint8Array {
    // A copy (Buffer's own slice would be a view of the table's memory).
    return new Uint8Array(this.records.subarray(0, this.count * RECORD_BYTES));
  }

  /** Empties the table, keeping its memory for the next records. */
  clear(): void {
    this.count = 0;
    this.slots.fill(0);
  }

  private addBytes(lo: number, hi: number, src: Buffer, hashAt: number): boolean {
    if (this.count === this.records.length / RECORD_BYTES) this.grow();
    const mask = this.slots.length - 1;
    let i = lo & mask;
    for (; this.slots[i] !== 0; i = (i + 1) & mask) {
      const at = (this.slots[i]! - 1) * RECORD_BYTES;
      if (
        this.isPrint(at, lo, hi) &&
        this.records.compare(src, hashAt, hashAt + 32, at + 8, at + RECORD_BYTES) === 0
      )
        return false;
    }
    const at = this.count * RECORD_BYTES;
    this.records.writeUInt32BE(hi, at);
    this.records.writeUInt32BE(lo, at + 4);
    src.copy(this.records, at + 8, hashAt, hashAt + 32);
    this.slots[i] = ++this.count;
    return true;
  }

  /** Whether the record at byte `at` is of the fingerprint (lo, hi). */
  private isPrint(at: number, lo: number, hi: number): boolean {
    return this.records.readUInt32BE(at + 4) === lo && this.records.readUInt32BE(at) === hi;
  }

  /** Twice the room: records copied, the index rebuilt. */
  private grow(): void {
    const records = Buffer.alloc(this.records.length * 2);
    this.records.copy(records);
    this.records = records;
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let r = 0; r < this.count; r++) {
      let i = this.records.readUInt32BE(r * RECORD_BYTES + 4) & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = r + 1;
    }
  }
}
