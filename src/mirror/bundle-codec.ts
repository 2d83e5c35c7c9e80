// The two entry bundle layouts a mirror stores and serves: kubetrail's JSON lines (one entry per
// line; audit events can exceed 64 KiB) and C2SP tlog-tiles' big-endian uint16 length-prefixed
// entries, so a mirror can follow kubetrail logs and any other tlog-tiles log.
import { bundlePrefix, checkEntry, joinEntries, splitBundle } from "../store/bundle-format.js";
import type { BundleFormat } from "../witness/logs-config.js";

export interface BundleCodec {
  readonly format: BundleFormat;
  /** Why `entry` cannot be stored in this layout, or null. */
  check(entry: Uint8Array): string | null;
  encode(entries: readonly Uint8Array[]): Uint8Array;
  /** The entries of bundle bytes; throws when they are not a bundle of this layout. */
  decode(bundle: Uint8Array): Uint8Array[];
  /** The bytes of the first `count` entries, or null when the bundle has fewer. */
  prefix(bundle: Uint8Array, count: number): Uint8Array | null;
}

const ndjson: BundleCodec = {
  format: "ndjson",
  check: checkEntry,
  encode: (entries) => joinEntries(entries),
  decode: splitBundle,
  prefix: bundlePrefix,
};

function c2spEntries(bundle: Uint8Array, limit: number): { entries: Uint8Array[]; end: number } {
  const entries: Uint8Array[] = [];
  const view = new DataView(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  let at = 0;
  while (at < bundle.length && entries.length < limit) {
    if (at + 2 > bundle.length) throw new Error(`bundle ends inside the length of entry ${entries.length}`);
    const length = view.getUint16(at);
    if (at + 2 + length > bundle.length) throw new Error(`bundle ends inside entry ${entries.length}`);
    entries.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return { entries, end: at };
}

const c2sp: BundleCodec = {
  format: "c2sp",
  check: (e) =>
    e.length > 0xffff ? `entry of ${e.length} bytes is over the 65535 of a uint16 length` : null,
  encode(entries) {
    const out = new Uint8Array(entries.reduce((n, e) => n + 2 + e.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const e of entries) {
      view.setUint16(at, e.length);
      out.set(e, at + 2);
      at += 2 + e.length;
    }
    return out;
  },
  decode: (bundle) => c2spEntries(bundle, Infinity).entries,
  prefix(bundle, count) {
    try {
      const { entries, end } = c2spEntries(bundle, count);
      return entries.length === count ? bundle.subarray(0, end) : null;
    } catch {
      return null;
    }
  },
};

export function bundleCodec(format: BundleFormat): BundleCodec {
  return format === "c2sp" ? c2sp : ndjson;
}
