// Finding a key's records in one run, on the event loop: the filter answers most keys (new
// ones) from memory; for the rest, a binary search over the fences names the one block that
// can hold the key, and one positioned read fetches it.
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import type { KeyPrint } from "../key-hash.js";
import { RECORD_BYTES } from "../record-table.js";
import { filterMayContain } from "./filter.js";
import { BLOCK_BYTES, BLOCK_RECORDS, blocksOf, compareKey, FENCE_BYTES, HEADER_BYTES } from "./format.js";
import { readAll } from "./run-file.js";
import type { RunView } from "./run-view.js";

export class RunReader {
  readonly name: string;
  private readonly fd: number;
  readonly records: number;
  private readonly fences: Buffer;
  private readonly filter: Uint32Array;

  constructor(dir: string, view: RunView) {
    this.name = view.name;
    this.records = view.records;
    this.fences = Buffer.from(view.fences);
    this.filter = new Uint32Array(view.filter);
    this.fd = openSync(path.join(dir, view.name), "r");
  }

  /** Adds to `found` each hash (hex) this run holds for `print` that it lacks; `block` is scratch space. */
  collect(print: KeyPrint, found: string[], block: Buffer): void {
    if (!filterMayContain(this.filter, print.hi, print.lo)) return;
    const blocks = blocksOf(this.records);
    // The first block whose first key is not below the key; its records may start in the one before.
    const lo = firstNotBelow(print, this.fences, blocks, FENCE_BYTES);
    for (let b = Math.max(0, lo - 1); b < blocks; b++) {
      if (b >= lo && compareKey(print.hi, print.lo, this.fences, b * FENCE_BYTES) !== 0) return;
      const n = Math.min(BLOCK_RECORDS, this.records - b * BLOCK_RECORDS);
      const bytes = n * RECORD_BYTES;
      readAll(this.fd, block.subarray(0, bytes), HEADER_BYTES + b * BLOCK_BYTES, this.name);
      for (
        let at = firstNotBelow(print, block, n, RECORD_BYTES) * RECORD_BYTES;
        at < bytes;
        at += RECORD_BYTES
      ) {
        const order = compareKey(print.hi, print.lo, block, at);
        if (order < 0) return;
        const hash = block.toString("hex", at + 8, at + RECORD_BYTES);
        if (!found.includes(hash)) found.push(hash);
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The first of `count` items of `stride` bytes in `buf`, sorted by the fingerprint they start with, not below `print`. */
function firstNotBelow(print: KeyPrint, buf: Buffer, count: number, stride: number): number {
  let lo = 0;
  for (let hi = count; lo < hi;) {
    const mid = (lo + hi) >>> 1;
    if (compareKey(print.hi, print.lo, buf, mid * stride) > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
