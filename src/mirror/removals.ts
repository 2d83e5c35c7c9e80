// A copy of a kubetrail log follows what the log itself removes: the entries its erasure
// records and its retention records (thinned) list become tombstones in the copy too, and the
// bundles a retention record prunes go from it, once the copy holds the record under a mirror
// checkpoint (so the record is the log's, checked against its signed root). Without this an
// offsite copy would keep, for as long as it lives, the personal data an erasure removed from
// the log and everything retention expired. The copy keeps every leaf hash in its tiles and
// every record, so it verifies as the log does, naming the record behind each removal.
//
// The entries a record lists come before it, in bundles that were full when it was written, so
// a copy holding the record holds those bundles whole.
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { findErasureRecords } from "../records/erasure-record.js";
import { decodeLines, findRetentionRecords } from "../records/retention-record.js";
import { TILE_WIDTH } from "../tlog/index.js";

/**
 * What every record holds (its apiVersion): an entry without it is no record, found with one
 * scan of each entry a copy takes rather than one per kind of record.
 */
const RECORD_MARKER = Buffer.from(KUBETRAIL_API_VERSION);

/** What records seen so far remove: lines per full bundle, and the pruned point with its reason. */
export class Removals {
  private readonly thin = new Map<number, Set<number>>();
  private prune: { before: number; reason: string } | null = null;

  /** Notes what entry `index` removes, if it is an erasure or a retention record. */
  note(entry: Uint8Array, index: number): void {
    if (Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).indexOf(RECORD_MARKER) === -1) return;
    for (const { record } of findErasureRecords(entry, index)) for (const i of record.entries) this.add(i);
    for (const { index: at, record } of findRetentionRecords(entry, index)) {
      for (const t of record.thinned ?? [])
        for (const line of decodeLines(t.lines) ?? []) this.add(t.bundle * TILE_WIDTH + line);
      if (record.range.before > record.range.from && record.prunedBefore > (this.prune?.before ?? 0))
        this.prune = {
          before: record.prunedBefore,
          reason: `retention record #${at} (policy ${record.policy.name}, by ${record.by})`,
        };
    }
  }

  /** Whether nothing is waiting. */
  get empty(): boolean {
    return this.thin.size === 0 && this.prune === null;
  }

  /**
   * Takes what a copy holding `size` entries can apply now: every line of a bundle full within
   * it (lines of later bundles wait), and the pruned point.
   */
  take(size: number): { thin: Map<number, Set<number>>; prune: { before: number; reason: string } | null } {
    const thin = new Map<number, Set<number>>();
    for (const [bundle, lines] of this.thin) {
      if ((bundle + 1) * TILE_WIDTH > size) continue;
      thin.set(bundle, lines);
      this.thin.delete(bundle);
    }
    const prune = this.prune !== null && this.prune.before <= size ? this.prune : null;
    if (prune !== null) this.prune = null;
    return { thin, prune };
  }

  private add(index: number): void {
    const bundle = Math.floor(index / TILE_WIDTH);
    let lines = this.thin.get(bundle);
    if (lines === undefined) this.thin.set(bundle, (lines = new Set()));
    lines.add(index % TILE_WIDTH);
  }
}
