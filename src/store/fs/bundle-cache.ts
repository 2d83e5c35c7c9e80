// Recently decompressed entry bundles, so a query whose answers share bundles, or pages through
// them, decompresses each one once. A file's identity (inode, size, modification time) is part
// of the key: a bundle rewritten by erasure is a new file, never answered from the cache.
import type { Stats } from "node:fs";

/** Bytes of decompressed bundles kept per reader: about a hundred bundles of real audit events. */
export const DEFAULT_CACHE_BYTES = 48 * 1024 * 1024;

export function fileIdentity(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * Callers get copies: whoever reads a bundle may hand its memory to a worker thread (leaf
 * hashing transfers it), which would empty the cached one.
 */
export class BundleCache {
  /** In least recently used order (Map iteration order). */
  private readonly entries = new Map<string, { identity: string; data: Buffer }>();
  private bytes = 0;

  constructor(private readonly maxBytes = DEFAULT_CACHE_BYTES) {}

  get(file: string, identity: string): Buffer | undefined {
    const hit = this.entries.get(file);
    if (hit === undefined || hit.identity !== identity) return undefined;
    this.entries.delete(file);
    this.entries.set(file, hit);
    return Buffer.from(hit.data);
  }

  set(file: string, identity: string, data: Buffer): void {
    if (data.length > this.maxBytes) return;
    this.delete(file);
    this.entries.set(file, { identity, data: Buffer.from(data) });
    this.bytes += data.length;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.data.length;
    }
  }

  delete(file: string): void {
    const old = this.entries.get(file);
    if (old === undefined) return;
    this.entries.delete(file);
    this.bytes -= old.data.length;
  }
}
