// Where each part of the log lives in the data directory (see DESIGN.md). Static paths
// follow C2SP tlog-tiles, so the directory can be served or mirrored as plain files.
import path from "node:path";
import { entryBundlePath, tilePath, type Tile } from "../../tlog/index.js";
import { COMPRESSED_SUFFIX } from "../bundle-codec.js";
import { BUNDLE_SIZE } from "../types.js";

export class FsLayout {
  constructor(readonly dir: string) {}

  get checkpoint(): string {
    return path.join(this.dir, "checkpoint");
  }
  get keysDir(): string {
    return path.join(this.dir, "keys");
  }
  /** The tree size whose full tiles are all durable (tiles are synced in batches, not per checkpoint). */
  get tilesDurable(): string {
    return path.join(this.dir, "tiles-durable");
  }
  /** The number of entries whose bundle files are synced; the write-ahead log holds the rest. */
  get entriesDurable(): string {
    return path.join(this.dir, "entries-durable");
  }
  /** Which entry bundles were removed on purpose, and why (see retention.ts). */
  get retention(): string {
    return path.join(this.dir, "retention");
  }
  /** Slots of the write-ahead log (see write-ahead-log.ts). */
  get walDir(): string {
    return path.join(this.dir, "wal");
  }
  get lockFile(): string {
    return path.join(this.dir, "LOCK");
  }

  hashTile(tile: Tile): string {
    return path.join(this.dir, tilePath(tile));
  }
  /** Directory of a tile's partial versions: `<full path>.p/`. */
  partialDir(fullPath: string): string {
    return `${fullPath}.p`;
  }
  /** A full (immutable) entry bundle of 256 lines. */
  bundle(index: number): string {
    return path.join(this.dir, entryBundlePath(index, BUNDLE_SIZE));
  }
  /**
   * A full bundle stored compressed (bundle-codec.ts): what a full bundle becomes once sealed.
   * Readers look here first, then at the plain file; either holds the same bytes.
   */
  compressedBundle(index: number): string {
    return this.bundle(index) + COMPRESSED_SUFFIX;
  }
  /** The partial entry bundle published with a checkpoint (first `width` lines). */
  partialBundle(index: number, width: number): string {
    return path.join(this.dir, entryBundlePath(index, width));
  }
  /**
   * The bundle still being written. Not a tlog-tiles path on purpose: nothing serves it,
   * and a crash can leave a torn tail here only.
   */
  openBundle(index: number): string {
    return `${this.bundle(index)}.open`;
  }
}
