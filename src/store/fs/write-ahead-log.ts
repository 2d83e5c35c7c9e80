// The write-ahead log: the one file a commit syncs before its entries are acknowledged.
//
// Syncing the bundle files themselves cost several metadata writes per commit (a growing
// file, often a new one and its directory). Instead each commit's bytes go, as one record,
// into a slot file, and only that file is synced. The log writes the entries to their bundle
// files afterwards, syncs those in batches and then releases the records
// (FsLog.syncBundles). Slots are reused once released: writing over a slot neither grows
// the file (so its sync writes no metadata) nor allocates page cache (copying into fresh
// pages costs several times more than into cached ones). A slot not yet filled once is
// written with zeros and synced a little ahead of the writer (preallocate), so commits into a
// new log or a new slot are overwrites too: an append's sync also commits the file system's
// journal (the new size and blocks), which is what made the slowest commits slow.
//
// Slots are `wal/<n>.wal`. A record never spans slots. A released slot is written again
// from offset 0, so records of earlier rounds can follow the newest one in it: recovery
// tells them apart by sequence number and index (wal-record.ts, replaySteps).
import fs, { promises as fsp } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import {
  closeFd,
  fdatasync,
  fsyncDir,
  openFd,
  settleAll,
  writevAll,
  writevAllNow,
  writeZerosNow,
} from "../durable-file.js";
import { LogError } from "../types.js";
import {
  decodeRecordHeader,
  encodeRecordHeader,
  payloadMatches,
  RECORD_HEADER_BYTES,
  replaySteps,
  type RecordHeader,
} from "./wal-record.js";
import { bundlePrefix } from "../bundle-format.js";

export interface WriteAheadOptions {
  /** Size a slot is filled up to before the writer moves to the next one. */
  slotBytes: number;
  /** Slots kept at most; when all hold unreleased records, a commit waits for makeRoom. */
  maxSlots: number;
  /**
   * Makes every acknowledged entry durable elsewhere and releases it (see release). Called
   * ahead of need when few slots are free, and awaited when none is.
   */
  makeRoom: () => Promise<void>;
  /** Told when making room ahead of need fails (the next call tries again). */
  onError?: (err: unknown) => void;
}

/**
 * 64 MiB at most, under a second of entries at full speed: the bundle files are synced
 * (releasing records) whenever half the slots are in use, and small slots are soon reused.
 */
export const DEFAULT_WAL_OPTIONS = { slotBytes: 8 * 1024 * 1024, maxSlots: 8 };

/**
 * Records up to this size are written in the calling thread (16 appenders × 10 entries: a
 * write's p50 0.65 → 0.2 ms, p99 4–6 → 1–2 ms); larger ones, whose copy would hold the event
 * loop for milliseconds, on the thread pool.
 */
const INLINE_WRITE_BYTES = 512 * 1024;

/** Zeros written ahead of the writer at a time; a new chunk is started when half is left. */
const PREALLOCATE_BYTES = 1024 * 1024;

interface Slot {
  file: string;
  fd: number;
  /** Where the next record goes. */
  pos: number;
  /** Bytes the file already holds: writing below this does not change its size. */
  allocated: number;
  /** Every record in the slot that a recovery could need ends at or before this log index. */
  end: number;
  /** The sync of zeros written ahead, while it runs. */
  syncingZeros: Promise<void> | null;
  /** Cleared when writing zeros failed: the slot grows by appends until it is reused. */
  preallocate: boolean;
}

interface FoundRecord extends RecordHeader {
  slot: Slot;
  offset: number;
}

/** The slots one write touched; they must be synced before its entries are durable. */
export interface WalWrite {
  readonly slots: ReadonlySet<Slot>;
}

const readAsync = promisify(fs.read);

export class WriteAheadLog {
  private readonly slots: Slot[] = [];
  private current: Slot | null = null;
  /** Entries before this index are durable elsewhere: records ending there are not needed. */
  private released = 0;
  private nextSeq = 0;
  private nextId = 0;
  private found: FoundRecord[] = [];
  /** After a failed write the slot may be out of space: the next write looks for another. */
  private moveOn = false;

  private constructor(
    private readonly dir: string,
    private readonly opts: WriteAheadOptions,
  ) {}

  /** Opens the slots in `dir` (creating the first one) and reads every record header in them. */
  static async open(dir: string, opts: WriteAheadOptions): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(dir, opts);
    const created = await fsp.mkdir(dir, { recursive: true });
    if (created !== undefined) await fsyncDir(path.dirname(dir));
    const ids = (await fsp.readdir(dir))
      .map((name) => /^(\d+)\.wal$/.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    try {
      for (const id of ids) await wal.scanSlot(id);
      if (wal.slots.length === 0) await wal.addSlot();
    } catch (err) {
      await wal.close();
      throw err;
    }
    return wal;
  }

  /**
   * The entries after `from` that the records hold, as bundle bytes, in log order (see
   * replaySteps; every record found takes part, also those ending before `from`). The replay
   * ends at a record whose payload is torn. Afterwards no record is needed any more once the
   * caller has made those entries durable and called release.
   */
  async *replay(from: number): AsyncGenerator<{ first: number; count: number; bytes: Uint8Array }> {
    for (const step of replaySteps(this.found, from)) {
      const payload = await this.payload(step.record);
      if (payload === null) return;
      const head = bundlePrefix(payload, step.start - step.record.first);
      const upTo = bundlePrefix(payload, step.end - step.record.first);
      if (head === null || upTo === null) {
        throw new LogError("corrupt", `${step.record.slot.file}: a record holds fewer lines than it says`);
      }
      yield { first: step.start, count: step.end - step.start, bytes: upTo.subarray(head.length) };
    }
  }

  /**
   * Hides every record that could still extend the log beyond `durable`: after recovery
   * these are leftovers of commits that were never acknowledged (a record after a torn
   * one), and must not be joined to entries written from now on.
   */
  async forgetBeyond(durable: number): Promise<void> {
    const stale = new Set(this.found.filter((r) => r.first + r.count > durable).map((r) => r.slot));
    this.found = [];
    // A slot is scanned from offset 0 and the scan stops at the first invalid header.
    await settleAll(
      [...stale].map(async (slot) => {
        await writevAll(slot.fd, [Buffer.alloc(RECORD_HEADER_BYTES)], 0);
        await fdatasync(slot.fd);
      }),
    );
    for (const slot of this.slots) slot.end = 0;
  }

  /**
   * Writes `entries` (joined into bundle lines in `joined`), starting at log index `first`,
   * as records. They are durable once sync(write) resolves.
   */
  async write(first: number, entries: readonly Uint8Array[], joined: Uint8Array): Promise<WalWrite> {
    const slots = new Set<Slot>();
    for (const piece of pieces(entries, joined, this.opts.slotBytes / 4)) {
      const index = first + piece.offset;
      const header = encodeRecordHeader(this.nextSeq++, index, piece.count, piece.bytes);
      const slot = await this.slotFor(header.length + piece.bytes.length);
      this.spaceFor(slot, slot.pos + header.length + piece.bytes.length);
      try {
        // The write is a copy into a reused slot's cached pages; the ack path waits for it.
        if (piece.bytes.length <= INLINE_WRITE_BYTES) writevAllNow(slot.fd, [header, piece.bytes], slot.pos);
        else await writevAll(slot.fd, [header, piece.bytes], slot.pos);
      } catch (err) {
        this.moveOn = true;
        throw err;
      }
      slot.pos += header.length + piece.bytes.length;
      slot.allocated = Math.max(slot.allocated, slot.pos);
      slot.end = Math.max(slot.end, index + piece.count);
      slots.add(slot);
    }
    return { slots };
  }

  async sync(write: WalWrite): Promise<void> {
    await settleAll([...write.slots].map((s) => fdatasync(s.fd)));
  }

  /** Entries before `upTo` are durable elsewhere: slots holding only those may be reused. */
  release(upTo: number): void {
    this.released = Math.max(this.released, upTo);
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.syncingZeros));
    const fds = this.slots.map((s) => s.fd);
    this.slots.length = 0;
    await Promise.all(fds.map((fd) => closeFd(fd)));
  }

  // ---- slots ----

  private async scanSlot(id: number): Promise<void> {
    const file = path.join(this.dir, `${id}.wal`);
    const fd = await openFd(file, "r+");
    const size = (await fsp.stat(file)).size;
    const slot: Slot = { file, fd, pos: 0, allocated: size, end: 0, syncingZeros: null, preallocate: true };
    this.slots.push(slot);
    this.nextId = Math.max(this.nextId, id + 1);
    const header = Buffer.alloc(RECORD_HEADER_BYTES);
    for (let offset = 0; offset + RECORD_HEADER_BYTES <= size;) {
      const { bytesRead } = await readAsync(fd, header, 0, RECORD_HEADER_BYTES, offset);
      const h = decodeRecordHeader(header.subarray(0, bytesRead));
      if (h === null || offset + RECORD_HEADER_BYTES + h.length > size) break;
      this.found.push({ ...h, slot, offset });
      this.nextSeq = Math.max(this.nextSeq, h.seq + 1);
      slot.end = Math.max(slot.end, h.first + h.count);
      offset += RECORD_HEADER_BYTES + h.length;
    }
  }

  /** A record's payload if it is intact, else null. */
  private async payload(r: FoundRecord): Promise<Uint8Array | null> {
    const data = Buffer.alloc(r.length);
    const { bytesRead } = await readAsync(r.slot.fd, data, 0, r.length, r.offset + RECORD_HEADER_BYTES);
    return bytesRead === r.length && payloadMatches(r, data) ? data : null;
  }

  /** The slot the next record of `bytes` goes into, moving to a free one when this one is full. */
  private async slotFor(bytes: number): Promise<Slot> {
    const cur = this.current;
    if (cur && !this.moveOn && (cur.pos === 0 || cur.pos + bytes <= this.opts.slotBytes)) return cur;
    let next = this.freeSlot();
    if (!next && this.slots.length < this.opts.maxSlots) next = await this.addSlot();
    if (!next) {
      await this.opts.makeRoom();
      next = this.freeSlot();
    }
    if (!next) {
      throw new LogError(
        "io",
        `all ${this.slots.length} write-ahead slots hold entries not yet synced elsewhere`,
      );
    }
    this.moveOn = false;
    next.pos = 0;
    next.end = 0;
    next.preallocate = true;
    this.current = next;
    // Release before the writer runs out: with half the slots in use, make room now.
    const inUse = this.slots.filter((s) => s.end > this.released).length + 1;
    if (inUse >= this.opts.maxSlots / 2)
      this.opts.makeRoom().catch((err: unknown) => this.opts.onError?.(err));
    return next;
  }

  /** A slot whose records are all released (the current one too), the roomiest first. */
  private freeSlot(): Slot | null {
    let best: Slot | null = null;
    for (const s of this.slots) {
      if (s.end <= this.released && (best === null || s.allocated > best.allocated)) best = s;
    }
    return best;
  }

  /** Creates an empty slot. Until its directory entry is synced it holds nothing. */
  private async addSlot(): Promise<Slot> {
    const file = path.join(this.dir, `${this.nextId++}.wal`);
    const fd = await openFd(file, "w+");
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      await closeFd(fd);
      await fsp.rm(file, { force: true });
      throw err;
    }
    const slot: Slot = { file, fd, pos: 0, allocated: 0, end: 0, syncingZeros: null, preallocate: true };
    this.slots.push(slot);
    return slot;
  }

  /**
   * Before a record is written up to `end`: when less than half a chunk of zeros is left after
   * it, writes the next chunk, in this thread so that no record can be written under zeros
   * still on their way. Only a slot's first fill does this, a chunk at a time. A failed write
   * is not the commit's: records go on growing the slot as they did before.
   */
  private spaceFor(slot: Slot, end: number): void {
    const from = Math.max(end, slot.allocated);
    const to = Math.min(this.opts.slotBytes, from + PREALLOCATE_BYTES);
    if (!slot.preallocate || from >= to || end + PREALLOCATE_BYTES / 2 <= slot.allocated) return;
    try {
      writeZerosNow(slot.fd, from, to);
    } catch {
      slot.preallocate = false;
      return;
    }
    slot.allocated = to;
    slot.syncingZeros ??= syncZeros(slot.file).finally(() => (slot.syncingZeros = null));
  }
}

/** Splits a commit into records of at most `maxBytes` (a single larger entry stays whole). */
function* pieces(
  entries: readonly Uint8Array[],
  joined: Uint8Array,
  maxBytes: number,
): Generator<{ offset: number; count: number; bytes: Uint8Array }> {
  let offset = 0;
  let byteStart = 0;
  while (offset < entries.length) {
    let count = 0;
    let bytes = 0;
    while (
      offset + count < entries.length &&
      (count === 0 || bytes + entries[offset + count]!.length + 1 <= maxBytes)
    ) {
      bytes += entries[offset + count]!.length + 1;
      count++;
    }
    yield { offset, count, bytes: joined.subarray(byteStart, byteStart + bytes) };
    offset += count;
    byteStart += bytes;
  }
}

/**
 * Syncs zeros written ahead, off the commit path, so that the file system's journal commit for
 * the grown file is not a commit's to wait for. Through a descriptor of its own: a write-back
 * error is reported once per open descriptor, so one seen here is still reported to the next
 * commit's sync rather than lost with this one, whose failure is therefore ignored.
 */
async function syncZeros(file: string): Promise<void> {
  try {
    const fd = await openFd(file, "r");
    try {
      await fdatasync(fd);
    } finally {
      await closeFd(fd);
    }
  } catch {
    // See above: the commit's own sync reports it.
  }
}
