// The wire formats of C2SP tlog-mirror's add-entries:
//
//   request  u16 origin length ‖ origin ‖ u64 upload_start ‖ u64 upload_end ‖ u16 ticket length ‖
//            ticket ‖ entry packages…
//   package  entries [start, end), each with a big-endian length prefix ‖ u8 num_hashes (≤ 63) ‖
//            the subtree consistency proof of [start rounded down to 256, end) to the tree of
//            upload_end
//   202/409  text/x.tlog.mirror-info: "<pending size>\n<next entry>\n<base64 ticket>\n"
//
// Packages follow a fixed canonical sequence aligned at multiples of 256 (packageRanges), so
// each can be checked and stored as one entry bundle without the rest of the request.
//
// Entry length prefixes are big-endian uint16 as C2SP says. kubetrail's own entries (Kubernetes
// audit events) can exceed 64 KiB, so a client may send uint32 prefixes instead, saying so with
// the request header `Kubetrail-Entry-Length: uint32`; a kubetrail mirror accepts both.

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { type Hash, HASH_SIZE } from "./hash.js";

export const MIRROR_INFO_CONTENT_TYPE = "text/x.tlog.mirror-info";
/** The request header that switches entry length prefixes to uint32 (kubetrail's extension). */
export const ENTRY_LENGTH_HEADER = "kubetrail-entry-length";
export const PACKAGE_SIZE = 256;
/** Packages a client sends per request at most (the spec's advice for hosting limits). */
export const MAX_PACKAGES_PER_REQUEST = 32;
const MAX_PROOF_HASHES = 63;

export type LengthPrefix = 2 | 4;

function malformed(why: string): TlogError {
  return new TlogError("malformed-request", `malformed add-entries request: ${why}`);
}

export interface MirrorInfo {
  /** The size of a valid pending checkpoint (the client's upload_end when that was valid). */
  pendingSize: number;
  /** The first entry the mirror does not have. */
  nextEntry: number;
  /** Opaque to the client; sent back as the next request's ticket. */
  ticket: Uint8Array;
}

export function formatMirrorInfo(info: MirrorInfo): string {
  return `${info.pendingSize}\n${info.nextEntry}\n${encodeBase64(info.ticket)}\n`;
}

/** Parses a text/x.tlog.mirror-info body; throws TlogError("malformed-request"). */
export function parseMirrorInfo(body: string): MirrorInfo {
  const lines = body.split("\n");
  if (lines.length !== 4 || lines[3] !== "") throw malformed("mirror-info is not three lines");
  const num = (s: string, what: string): number => {
    if (!/^(0|[1-9][0-9]*)$/.test(s) || !Number.isSafeInteger(Number(s)))
      throw malformed(`mirror-info ${what} ${JSON.stringify(s.slice(0, 30))} is not a decimal`);
    return Number(s);
  };
  const ticket = lines[2] === "" ? new Uint8Array(0) : decodeBase64(lines[2]!);
  if (!ticket) throw malformed("mirror-info ticket is not base64");
  return { pendingSize: num(lines[0]!, "pending size"), nextEntry: num(lines[1]!, "next entry"), ticket };
}

export interface AddEntriesHeader {
  origin: string;
  uploadStart: number;
  uploadEnd: number;
  ticket: Uint8Array;
}

/** One package of the canonical sequence: entries [start, end) proven as the subtree [subtreeStart, end). */
export interface PackageRange {
  subtreeStart: number;
  start: number;
  end: number;
}

/** The canonical sequence of packages for an upload of [uploadStart, uploadEnd). */
export function packageRanges(uploadStart: number, uploadEnd: number): PackageRange[] {
  if (uploadStart >= uploadEnd) return [];
  const first = Math.floor(uploadStart / PACKAGE_SIZE);
  const last = Math.ceil(uploadEnd / PACKAGE_SIZE);
  const out: PackageRange[] = [];
  for (let p = first; p < last; p++) {
    const subtreeStart = p * PACKAGE_SIZE;
    out.push({
      subtreeStart,
      start: Math.max(uploadStart, subtreeStart),
      end: Math.min(uploadEnd, subtreeStart + PACKAGE_SIZE),
    });
  }
  return out;
}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${what} ${v} is too large`);
  return Number(v);
}

const encoder = new TextEncoder();

export function encodeAddEntriesHeader(h: AddEntriesHeader): Uint8Array {
  const origin = encoder.encode(h.origin);
  if (origin.length === 0 || origin.length > 0xffff) throw malformed("origin is empty or too long");
  if (h.ticket.length > 0xffff) throw malformed("ticket is too long");
  if (!(h.uploadStart >= 0 && h.uploadStart <= h.uploadEnd)) throw malformed("upload_start > upload_end");
  const out = new Uint8Array(2 + origin.length + 16 + 2 + h.ticket.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, origin.length);
  out.set(origin, 2);
  let at = 2 + origin.length;
  view.setBigUint64(at, BigInt(h.uploadStart));
  view.setBigUint64(at + 8, BigInt(h.uploadEnd));
  view.setUint16(at + 16, h.ticket.length);
  out.set(h.ticket, at + 18);
  at += 18 + h.ticket.length;
  return out;
}

/** The length prefix an upload of these entries needs: uint16 unless one is 64 KiB or more. */
export function lengthPrefixFor(entries: readonly Uint8Array[]): LengthPrefix {
  return entries.some((e) => e.length > 0xffff) ? 4 : 2;
}

/** One entry package: its entries, each length-prefixed, then the proof. */
export function encodeEntryPackage(
  entries: readonly Uint8Array[],
  proof: readonly Hash[],
  prefix: LengthPrefix,
): Uint8Array {
  if (proof.length > MAX_PROOF_HASHES) throw malformed(`${proof.length} proof hashes`);
  let size = 1 + proof.length * HASH_SIZE;
  for (const e of entries) {
    if (prefix === 2 && e.length > 0xffff)
      throw malformed(`an entry of ${e.length} bytes needs uint32 prefixes`);
    size += prefix + e.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    if (prefix === 2) view.setUint16(at, e.length);
    else view.setUint32(at, e.length);
    out.set(e, at + prefix);
    at += prefix + e.length;
  }
  out[at++] = proof.length;
  for (const h of proof) {
    out.set(h, at);
    at += HASH_SIZE;
  }
  return out;
}

export interface EntryPackage extends PackageRange {
  entries: Uint8Array[];
  proof: Hash[];
}

/**
 * Parses an add-entries body as it streams in: push() each chunk, then take the header and
 * the complete packages; whatever follows the last complete package is a partial package.
 * Memory is bounded: a package larger than `maxPackageBytes` or an entry larger than
 * `maxEntryBytes` is a TlogError("malformed-request") as soon as its length is known.
 */
export class AddEntriesDecoder {
  /** Received bytes not yet consumed are buf[read, write). */
  private buf = new Uint8Array(64 * 1024);
  private read = 0;
  private write = 0;
  private headerValue: AddEntriesHeader | null = null;
  private ranges: PackageRange[] = [];
  private nextRange = 0;
  /** How far the next package's entry lengths have been read: entries seen and bytes they take. */
  private scan = { entries: 0, bytes: 0 };

  constructor(
    private readonly prefix: LengthPrefix,
    private readonly limits: { maxEntryBytes: number; maxPackageBytes: number },
  ) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.write + chunk.length > this.buf.length) {
      const live = this.write - this.read;
      const size = Math.max(this.buf.length, 2 * (live + chunk.length));
      const next = size === this.buf.length ? this.buf : new Uint8Array(size);
      // copyWithin is safe when moving the live bytes to the front of the same array.
      if (next === this.buf) next.copyWithin(0, this.read, this.write);
      else next.set(this.buf.subarray(this.read, this.write), 0);
      this.buf = next;
      this.write = live;
      this.read = 0;
    }
    this.buf.set(chunk, this.write);
    this.write += chunk.length;
  }

  /** Bytes received but not yet part of a complete header or package. */
  get pendingBytes(): number {
    return this.write - this.read;
  }

  private view(): DataView {
    return new DataView(this.buf.buffer, this.buf.byteOffset + this.read, this.write - this.read);
  }

  /** The header once its bytes are in, else null. Throws for a malformed header. */
  header(): AddEntriesHeader | null {
    if (this.headerValue) return this.headerValue;
    const view = this.view();
    if (view.byteLength < 2) return null;
    const originLength = view.getUint16(0);
    const fixed = 2 + originLength + 16 + 2;
    if (view.byteLength < fixed) return null;
    const ticketLength = view.getUint16(fixed - 2);
    if (view.byteLength < fixed + ticketLength) return null;
    if (originLength === 0) throw malformed("empty origin");
    const bytes = this.take(fixed + ticketLength);
    let origin: string;
    try {
      origin = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(2, 2 + originLength));
    } catch {
      throw malformed("origin is not UTF-8");
    }
    const uploadStart = u64(view, 2 + originLength, "upload_start");
    const uploadEnd = u64(view, 2 + originLength + 8, "upload_end");
    if (uploadStart > uploadEnd) throw malformed(`upload_start ${uploadStart} > upload_end ${uploadEnd}`);
    this.headerValue = { origin, uploadStart, uploadEnd, ticket: bytes.slice(fixed, fixed + ticketLength) };
    this.ranges = packageRanges(uploadStart, uploadEnd);
    return this.headerValue;
  }

  /** True when every package of the canonical sequence has been returned. */
  get complete(): boolean {
    return this.headerValue !== null && this.nextRange === this.ranges.length;
  }

  /** The next complete package, or null until its bytes are all in (or after the last one). */
  nextPackage(): EntryPackage | null {
    if (!this.headerValue || this.nextRange >= this.ranges.length) return null;
    const range = this.ranges[this.nextRange]!;
    const size = this.packageSize(range.end - range.start);
    if (size === null) return null;
    const bytes = this.take(size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const entries: Uint8Array[] = [];
    let at = 0;
    for (let i = range.start; i < range.end; i++) {
      const length = this.prefix === 2 ? view.getUint16(at) : view.getUint32(at);
      entries.push(bytes.slice(at + this.prefix, at + this.prefix + length));
      at += this.prefix + length;
    }
    const count = bytes[at++]!;
    const proof: Hash[] = [];
    for (let i = 0; i < count; i++, at += HASH_SIZE) proof.push(bytes.slice(at, at + HASH_SIZE));
    this.nextRange++;
    this.scan = { entries: 0, bytes: 0 };
    return { ...range, entries, proof };
  }

  /**
   * The byte size of the next package of `count` entries once all of it is buffered, else null.
   * Entry lengths already read are not read again on the next call.
   */
  private packageSize(count: number): number | null {
    const view = this.view();
    const scan = this.scan;
    while (scan.entries < count) {
      if (view.byteLength < scan.bytes + this.prefix) return null;
      const length = this.prefix === 2 ? view.getUint16(scan.bytes) : view.getUint32(scan.bytes);
      if (length > this.limits.maxEntryBytes)
        throw malformed(`an entry of ${length} bytes is larger than ${this.limits.maxEntryBytes}`);
      scan.bytes += this.prefix + length;
      scan.entries++;
      if (scan.bytes > this.limits.maxPackageBytes)
        throw malformed(`an entry package is larger than ${this.limits.maxPackageBytes} bytes`);
    }
    if (view.byteLength < scan.bytes + 1) return null;
    const hashes = view.getUint8(scan.bytes);
    if (hashes > MAX_PROOF_HASHES) throw malformed(`${hashes} proof hashes (at most ${MAX_PROOF_HASHES})`);
    const size = scan.bytes + 1 + hashes * HASH_SIZE;
    return view.byteLength >= size ? size : null;
  }

  /** The next n bytes, consumed (valid until the next push). */
  private take(n: number): Uint8Array {
    const out = this.buf.subarray(this.read, this.read + n);
    this.read += n;
    return out;
  }
}
