// Reading run files on the store's writer thread: opening one (checking everything but the
// records, which would cost a read of the whole file), and scanning one's records in order for
// a merge, which checks their digest on the way.
import { createHash, type Hash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import path from "node:path";
import { RECORD_BYTES } from "../record-table.js";
import { StoreCorruptError } from "./corrupt.js";
import { PROBES } from "./filter.js";
import { decodeHeader, HEADER_BYTES, sectionsOf, TRAILER_BYTES, type RunHeader } from "./format.js";
import type { RunView } from "./run-view.js";

/** Records read per system call while scanning. */
const SCAN_RECORDS = 4096;

/** Opens `dir/name` and loads its fences and filter; throws StoreCorruptError on any mismatch. */
export function loadRun(dir: string, name: string): RunView {
  const fd = openRun(dir, name);
  try {
    const headerBytes = readHeaderBytes(fd, name);
    const header = parseHeader(headerBytes, name);
    const at = sectionsOf(header);
    const size = fstatSync(fd).size;
    if (size !== at.size) throw new StoreCorruptError(name, `${size} bytes, its header says ${at.size}`);
    const fences = new SharedArrayBuffer(at.filter - at.fences);
    const filter = new SharedArrayBuffer(at.trailer - at.filter);
    const trailer = Buffer.alloc(TRAILER_BYTES);
    readAll(fd, Buffer.from(fences), at.fences, name);
    readAll(fd, Buffer.from(filter), at.filter, name);
    readAll(fd, trailer, at.trailer, name);
    const digest = createHash("sha256")
      .update(headerBytes)
      .update(Buffer.from(fences))
      .update(Buffer.from(filter))
      .digest();
    if (!digest.equals(trailer))
      throw new StoreCorruptError(name, "index or filter does not match its checksum");
    if (endianness() !== "LE") Buffer.from(filter).swap32();
    return { name, records: header.records, fences, filter };
  } finally {
    closeSync(fd);
  }
}

/** A run's records in order, read a chunk at a time; `next` checks the digest at the end. */
export class RunScanner {
  private readonly fd: number;
  private readonly header: RunHeader;
  private readonly digest: Hash = createHash("sha256");
  readonly buf = Buffer.allocUnsafe(SCAN_RECORDS * RECORD_BYTES);
  /** Byte offset of the current record in `buf`, and of the end of what was read. */
  pos = 0;
  end = 0;
  /** The current record's fingerprint. */
  hi = 0;
  lo = 0;
  private read = 0;

  constructor(
    dir: string,
    private readonly name: string,
  ) {
    this.fd = openRun(dir, name);
    try {
      this.header = parseHeader(readHeaderBytes(this.fd, name), name);
      this.fill();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** False once every record has been passed. */
  get more(): boolean {
    return this.pos < this.end;
  }

  /** Moves past the current record. */
  next(): void {
    this.pos += RECORD_BYTES;
    if (this.pos === this.end) this.fill();
    else this.readPrint();
  }

  close(): void {
    closeSync(this.fd);
  }

  private fill(): void {
    const want = Math.min(SCAN_RECORDS, this.header.records - this.read);
    this.pos = 0;
    this.end = want * RECORD_BYTES;
    if (want === 0) {
      if (!this.digest.digest().equals(this.header.recordsDigest))
        throw new StoreCorruptError(this.name, "records do not match their checksum");
      return;
    }
    const data = this.buf.subarray(0, this.end);
    readAll(this.fd, data, HEADER_BYTES + this.read * RECORD_BYTES, this.name);
    this.digest.update(data);
    this.read += want;
    this.readPrint();
  }

  private readPrint(): void {
    this.hi = this.buf.readUInt32BE(this.pos);
    this.lo = this.buf.readUInt32BE(this.pos + 4);
  }
}

function openRun(dir: string, name: string): number {
  try {
    return openSync(path.join(dir, name), "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new StoreCorruptError(name, "missing");
    throw err;
  }
}

function readHeaderBytes(fd: number, name: string): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  readAll(fd, b, 0, name);
  return b;
}

function parseHeader(bytes: Buffer, name: string): RunHeader {
  const header = decodeHeader(bytes);
  if (typeof header === "string") throw new StoreCorruptError(name, header);
  if (header.probes !== PROBES)
    throw new StoreCorruptError(name, `filter of ${header.probes} probes, not ${PROBES}`);
  return header;
}

/** Fills `into` from `position`; a short file is a damaged one. */
export function readAll(fd: number, into: Buffer, position: number, name: string): void {
  for (let done = 0; done < into.length;) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new StoreCorruptError(name, `ends before byte ${position + into.length}`);
    done += n;
  }
}
