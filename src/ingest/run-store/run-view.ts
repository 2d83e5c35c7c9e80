/**
 * What a reader needs of one run, and what crosses from the store's writer thread to the event
 * loop: the index and filter in shared memory (handed over without a copy), the records left
 * in the file.
 */
export interface RunView {
  /** File name within the store's directory. */
  name: string;
  records: number;
  /** The first fingerprint of each block, 8 bytes each, big-endian (as in the file). */
  fences: SharedArrayBuffer;
  /** The run's Bloom filter (filter.ts), in this machine's byte order. */
  filter: SharedArrayBuffer;
}
