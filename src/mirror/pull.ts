// Pull mode: a mirror that follows any tlog-tiles log by reading it, as an auditor keeps a copy
// of their own. Each round: the log's checkpoint (signed by a configured key), then a proof from
// the log's own tiles that it extends the checkpoint the mirror holds — authenticated against
// the new root, so a lying tile server cannot forge it — then the entry bundles the mirror
// lacks, whose hashes must give the new root before the mirror commits and cosigns. A
// checkpoint that does not extend the one held is a fork (or a rollback) and is raised as one,
// naming both checkpoints; nothing is fetched from such a log.
import {
  entryBundlePath,
  hashesEqual,
  hashLeaf,
  openCheckpoint,
  proveConsistency,
  TILE_WIDTH,
  tileHashReader,
  tilePath,
  verifyConsistency,
  type Tile,
} from "../tlog/index.js";
import { HttpClient, joinUrl } from "../publish/http-client.js";
import type { ForkEvidence } from "../witness/witness.js";
import type { BundleCodec } from "./bundle-codec.js";
import type { Mirror } from "./mirror.js";

export interface PullSource {
  /** The log's tlog-tiles prefix (where checkpoint and tile/ are). */
  url: string;
  /** Read token for its entry bundles, when it asks for one. */
  token?: string;
}

export interface PullResult {
  origin: string;
  /** The mirror checkpoint's size after the round. */
  size: number;
  /** Entries fetched in this round. */
  fetched: number;
}

export class PullError extends Error {
  constructor(
    readonly code: "unavailable" | "bad-log" | "fork",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PullError";
  }
}

/** Bundles fetched at once while catching up. */
const IN_FLIGHT = 8;

export class Puller {
  constructor(
    private readonly mirror: Mirror,
    private readonly http: HttpClient,
    private readonly opts: { timeoutMs: number; onFork?: (e: ForkEvidence) => void },
  ) {}

  private async get(source: PullSource, path: string, auth = false): Promise<Buffer | null> {
    const answer = await this.http
      .request("GET", joinUrl(source.url, path), {
        timeoutMs: this.opts.timeoutMs,
        headers: auth && source.token ? { Authorization: `Bearer ${source.token}` } : {},
      })
      .catch((err: unknown) => {
        throw new PullError("unavailable", (err as Error).message, { cause: err });
      });
    if (answer.status === 404) return null;
    if (answer.status !== 200)
      throw new PullError("unavailable", `GET ${joinUrl(source.url, path).href}: HTTP ${answer.status}`);
    return answer.body;
  }

  /** One round for the log `origin` from `source`; see the file comment. */
  async pull(origin: string, source: PullSource): Promise<PullResult> {
    const state = await this.mirror.state(origin);
    if (!state) throw new PullError("bad-log", `${origin} is not a log of this mirror`);
    const noteBytes = await this.get(source, "checkpoint");
    if (noteBytes === null) throw new PullError("unavailable", `${source.url}: no checkpoint`);
    const note = noteBytes.toString("utf8");
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
      const tiles = tileHashReader(
        cp.size,
        {
          readTiles: (list: Tile[]) => Promise.all(list.map((t) => this.tile(source, t))),
        },
        cp.rootHash,
      );
      if (held) {
        const proof = await proveConsistency(held.size, cp.size, tiles);
        if (!verifyConsistency(held.size, cp.size, proof, held.rootHash, cp.rootHash))
          throw fork(`the checkpoint of size ${cp.size} does not extend the ${held.size} mirrored`);
      }
      const start = log.next;
      try {
        await this.fetchEntries(source, log.codec, start, cp.size, (entries) =>
          log.append(
            entries,
            entries.map((e) => hashLeaf(e)),
          ),
        );
        await log.commit(note, this.mirror.signer);
      } catch (err) {
        await log.discardUncommitted();
        if (err instanceof PullError) throw err;
        throw new PullError("bad-log", `${origin}: ${(err as Error).message}`, { cause: err });
      }
      return { origin, size: cp.size, fetched: cp.size - start };
    });
  }

  private async tile(source: PullSource, tile: Tile): Promise<Uint8Array> {
    const exact = await this.get(source, tilePath(tile));
    const data =
      exact ??
      (tile.width < TILE_WIDTH ? await this.get(source, tilePath({ ...tile, width: TILE_WIDTH })) : null);
    if (data === null || data.length < tile.width * 32)
      throw new PullError("bad-log", `${tilePath(tile)} is missing`);
    return data.subarray(0, tile.width * 32);
  }

  /** Fetches entries [start, end) bundle by bundle, several at once, handing them over in order. */
  private async fetchEntries(
    source: PullSource,
    codec: BundleCodec,
    start: number,
    end: number,
    take: (entries: Uint8Array[]) => Promise<void>,
  ): Promise<void> {
    const first = Math.floor(start / TILE_WIDTH);
    const last = Math.ceil(end / TILE_WIDTH);
    const fetchBundle = async (b: number): Promise<Uint8Array[]> => {
      const width = Math.min(TILE_WIDTH, end - b * TILE_WIDTH);
      let data = await this.get(source, entryBundlePath(b, width), true);
      if (data === null && width < TILE_WIDTH) {
        const full = await this.get(source, entryBundlePath(b, TILE_WIDTH), true);
        data = full === null ? null : Buffer.from(codec.prefix(full, width) ?? new Uint8Array(0));
      }
      if (data === null)
        throw new PullError("bad-log", `entry bundle ${b} is missing (pruned, or a read token is needed)`);
      const entries = codec.decode(data);
      if (entries.length !== width)
        throw new PullError("bad-log", `entry bundle ${b} holds ${entries.length} entries, not ${width}`);
      return entries.slice(b === first ? start - b * TILE_WIDTH : 0);
    };
    const inFlight: Promise<Uint8Array[]>[] = [];
    let next = first;
    const submit = (): void => {
      const p = fetchBundle(next++);
      // Awaited in order below; one failing after an earlier failure stopped the loop is not unhandled.
      p.catch(() => undefined);
      inFlight.push(p);
    };
    while (next < last && inFlight.length < IN_FLIGHT) submit();
    while (inFlight.length > 0) {
      const entries = await inFlight.shift()!;
      if (next < last) submit();
      await take(entries);
    }
  }
}
