// Reused buffers for the bytes of each commit. A commit's bytes go to the write-ahead log,
// then the bundle files, then the hashing worker, which is lent the memory and hands it back
// (LeafHasherPool.hashLent). A fresh buffer per commit cost a mapping, page faults and
// zeroing every time, and freeing it on the worker's thread left memory behind in that
// thread's allocator.

/** Smallest and largest size class (bytes); larger commits get a buffer of their own. */
const MIN_CLASS = 256 * 1024;
const MAX_CLASS = 16 * 1024 * 1024;
/** Free buffers kept at most, in bytes over all size classes. */
const KEEP_BYTES = 64 * 1024 * 1024;

export class CommitBuffers {
  /** Free memory by size (a power of two from MIN_CLASS to MAX_CLASS). */
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;

  /** A buffer of exactly `size` bytes whose memory is its own, reused when some is free. */
  take(size: number): Buffer {
    const cls = sizeClass(size);
    if (cls === null) return Buffer.from(new ArrayBuffer(size));
    const reused = this.free.get(cls)?.pop();
    if (reused) this.freeBytes -= cls;
    return Buffer.from(reused ?? new ArrayBuffer(cls), 0, size);
  }

  /** Takes back the memory of a buffer from take() once nothing reads or writes it any more. */
  give(memory: ArrayBuffer): void {
    if (memory.byteLength === 0 || sizeClass(memory.byteLength) !== memory.byteLength) return;
    if (this.freeBytes + memory.byteLength > KEEP_BYTES) return;
    const list = this.free.get(memory.byteLength) ?? [];
    list.push(memory);
    this.free.set(memory.byteLength, list);
    this.freeBytes += memory.byteLength;
  }
}

function sizeClass(size: number): number | null {
  if (size > MAX_CLASS) return null;
  let cls = MIN_CLASS;
  while (cls < size) cls *= 2;
  return cls;
}
