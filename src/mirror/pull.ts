// Pull mode: a mirror that follows any tlog-tiles log by reading it, as an auditor keeps a copy
// of their own. Each round: the log's checkpoint (signed by a configured key), then a proof from
// the log's own tiles that it extends the checkpoint the mirror holds — authenticated against
// the new root, so a lying tile server cannot forge it — then the entry bundles the mirror
// lacks, whose hashes must give the new root before the mirror commits and cosigns. A
// checkpoint that does not extend the one held is a fork (or a rollback) and is raised as one,
// naming both checkpoints; nothing is fetched from such a log.
import {
  hashesEqual,
  openCheckpoint,
  proveConsistency,
  tileHashReader,
  verifyConsistency,
  TILE_WIDTH,
  type Tile,
} from "../tlog/index.js";
import type { ForkEvidence } from "../witness/witness.js";
import type { Mirror } from "./mirror.js";
import { readEntriesInOrder, TilesClient, TilesClientError, type FetchedBundle } from "./tiles-client.js";
import { MirrorError } from "./errors.js";

export interface PullResult {
  origin: string;
  /** The mirror checkpoint's size after the round. */
  size: number;
  /** Entries fetched in this round. */
  fetched: number;
}

/** The first `width` leaf hashes of bundle `index`, from the log's level-0 tile. */
async function tileLeaves(source: TilesClient, index: number, width: number): Promise<Uint8Array[]> {
  const tile = await source.tile({ level: 0, index, width });
  return Array.from({ length: width }, (_, i) => tile.subarray(i * 32, (i + 1) * 32));
}

/**
 * A bundle the log's retention removed (HTTP 410): no entries, but their leaf hashes from its
 * level-0 tile, which the log keeps; commit checks them with the rest against the signed root.
 * Any other failure is rethrown.
 */
async function prunedBundle(source: TilesClient, index: number, err: unknown): Promise<FetchedBundle> {
  if (!(err instanceof TilesClientError) || err.code !== "pruned") throw err;
  const leaves = await tileLeaves(source, index, TILE_WIDTH);
  return { entries: [], pruned: { leaves, reason: `pruned by the log: ${err.message}` } };
}

/**
 * A bundle holding erased entries (tombstones: empty lines, which no entry is) gets the leaf
 * hashes of its tile, the only place an erased entry's hash is left; checked against the signed
 * root at commit like everything else. Others are hashed from their bytes as they are appended.
 */
async function withTombstoneLeaves(
  source: TilesClient,
  index: number,
  got: FetchedBundle,
): Promise<FetchedBundle> {
  if (!got.entries.some((e) => e.length === 0)) return got;
  return { ...got, leaves: await tileLeaves(source, index, got.entries.length) };
}

/** Following a log failed: it could not be read, is not a valid log, or forked from the copy held. */
export class PullError extends MirrorError {}

export class Puller {
  constructor(
    private readonly mirror: Mirror,
    private readonly opts: { onFork?: (e: ForkEvidence) => void },
  ) {}

  /**
   * One round for the log `origin` read through `source`; see the file comment. `onProgress`
   * hears the entries held (checked, not yet durable) of the checkpoint's size as bundles come in.
   */
  async pull(
    origin: string,
    source: TilesClient,
    onProgress?: (done: number, total: number) => void,
  ): Promise<PullResult> {
    const state = await this.mirror.state(origin);
    if (!state) throw new PullError("bad-log", `${origin} is not a log of this mirror`);
    const note = await source.checkpoint().catch((err: unknown) => {
      throw new PullError("unavailable", (err as Error).message, { cause: err });
    });
    let cp;
    try {
      cp = openCheckpoint(note, state.log.logKeys);
    } catch (err) {
      throw new PullError("bad-log", `${source.url}checkpoint: ${(err as Error).message}`, { cause: err });
    }
    if (cp.origin !== origin)
      throw new PullError("bad-log", `${source.url} serves the log ${cp.origin}, not ${origin}`);
    return this.mirror.exclusive(state, async () => {
      const { log } = state;
      const held = log.checkpoint();
      const fork = (reason: string): PullError => {
        this.opts.onFork?.({ origin, held: held!.note, shown: note, reason });
        return new PullError("fork", `${origin}: ${reason}`);
      };
      if (held && cp.size < held.size)
        throw fork(`the log serves a checkpoint of size ${cp.size}, smaller than the ${held.size} mirrored`);
      if (held && cp.size === held.size) {
        if (!hashesEqual(cp.rootHash, held.rootHash))
          throw fork(`a different tree of size ${cp.size} than the one mirrored`);
        return { origin, size: held.size, fetched: 0 };
      }
      const start = log.next;
      try {
        if (held) {
          const tiles = tileHashReader(
            cp.size,
            { readTiles: (list: Tile[]) => Promise.all(list.map((t) => source.tile(t))) },
            cp.rootHash,
          );
          const proof = await proveConsistency(held.size, cp.size, tiles);
          if (!verifyConsistency(held.size, cp.size, proof, held.rootHash, cp.rootHash))
            throw fork(`the checkpoint of size ${cp.size} does not extend the ${held.size} mirrored`);
        }
        await readEntriesInOrder(
          (index, width) =>
            source.bundle(index, width, log.codec).then(
              (got) => withTombstoneLeaves(source, index, got),
              (err: unknown) => prunedBundle(source, index, err),
            ),
          start,
          cp.size,
          async ({ entries, frame, leaves, pruned }) => {
            if (pruned) await log.appendPruned(pruned.leaves, pruned.reason);
            else await log.append(entries, leaves, frame);
            onProgress?.(log.next, cp.size);
          },
        );
        await log.commit(note, this.mirror.signer);
      } catch (err) {
        await log.discardUncommitted();
        if (err instanceof PullError) throw err;
        const code =
          err instanceof TilesClientError && err.code === "unavailable" ? "unavailable" : "bad-log";
        throw new PullError(code, `${origin}: ${(err as Error).message}`, { cause: err });
      }
      return { origin, size: cp.size, fetched: cp.size - start };
    });
  }
}
