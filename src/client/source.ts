// Where read commands get their answers: a local data directory or a remote server. Both hand
// back entries as the log stored them, already checked: a local one against the index's leaf
// hashes and the log's own checkpoint, a remote one against a checkpoint signed by the pinned
// verifier key, with an inclusion proof per entry.
import type { TopCount, TopDimension } from "../index/db.js";
import type { RawFilter } from "../index/query.js";
import type { ResolvedEntry } from "../index/resolve.js";
import type { Hash } from "../tlog/index.js";

/** A checkpoint whose signature has been checked, with the note as signed. */
export interface TrustedCheckpoint {
  origin: string;
  size: number;
  rootHash: Hash;
  note: string;
}

export interface ProvenEntry extends ResolvedEntry {
  /** Inclusion proof of the entry in the tree of the listing's checkpoint. */
  proof: Hash[];
}

export interface EventPage {
  /** The page's entries; with `proofs`, each carries its inclusion proof. */
  entries: (ResolvedEntry | ProvenEntry)[];
}

export interface PageOptions {
  /** Entries wanted in all: a positive number, or Infinity for every match. */
  total: number;
  /** Attach inclusion proofs (always checked remotely; asked for by export). */
  proofs?: boolean;
}

export interface Listing {
  /** The checkpoint the listing is proven against; known once the first page has arrived. */
  checkpoint(): TrustedCheckpoint;
  /** Pages in the filter's order until `total` entries or the last match. */
  pages(): AsyncIterable<EventPage>;
  /** After the pages: the cursor of the next match beyond `total`, if there is one. */
  more(): string | undefined;
}

export interface ReadSource {
  /** Where answers come from, for messages: a directory or a server URL. */
  readonly where: string;
  /** Events matching `filter` (its `limit` and `cursor` are set by the listing). */
  list(filter: RawFilter, opts: PageOptions): Listing;
  /** Request counts by one dimension, largest first. Counts carry no proof. */
  top(dimension: TopDimension, filter: RawFilter, n: number): Promise<TopCount[]>;
  /** One entry with its inclusion proof against the latest checkpoint, checked. */
  entry(index: number): Promise<{ entry: ProvenEntry; checkpoint: TrustedCheckpoint }>;
  /** The log's origin and verifier key as the source states it. */
  verifierKey(): Promise<{ origin: string; verifierKey: string }>;
  close(): Promise<void>;
}

/** Largest page asked for at once, locally and from a server (its documented maximum). */
export const PAGE_SIZE = 1000;

/** Most counts one `top` request returns from a server. */
export const TOP_MAX = 10_000;
