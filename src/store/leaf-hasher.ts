// Hashes entry bundles on worker threads. Leaf hashing is the largest CPU cost of both
// integration and verification, and SHA-256 of one bundle is independent of every other,
// so it runs beside the event loop instead of on it.
import { spansBuffer, WorkerCalls } from "../worker/calls.js";
import { startWorker, workerModule } from "../worker/start.js";
import { perfectTreeRoots, TILE_WIDTH, type Hash } from "../tlog/index.js";
import { decompressBundle } from "./bundle-codec.js";
import { bundleHolds, bundleLeafHashes } from "./bundle-format.js";
import { splitTileData } from "./tile-builder.js";
import { LogError } from "./types.js";

const TILE_BYTES = TILE_WIDTH * 32;

/**
 * What the worker (leaf-hash-worker.ts) is asked: a bundle's leaf hashes, the same of a bundle
 * stored compressed (`where` names it in errors), or tile roots.
 */
export type HashRequest =
  | {
      data: ArrayBuffer;
      offset: number;
      length: number;
      compressed?: { where: string };
      /** Byte strings to look for (bundleHolds); asked, the reply says too which lines are empty. */
      find?: string[];
    }
  | { tiles: ArrayBuffer };

/**
 * Its answer; the bundle's memory comes back with it (of a compressed bundle, the bundle it
 * decompressed to), or why the bundle could not be hashed.
 */
export type HashReply =
  | { ok: true; hashes: Uint8Array; data: ArrayBuffer; found?: boolean[]; empty?: number[] }
  | { ok: false; data: ArrayBuffer; error?: string }
  | { ok: true; roots: Uint8Array };

/** A bundle's leaf hashes, its bytes, which of the byte strings asked for it holds, and its empty lines. */
export interface Hashed {
  hashes: Uint8Array;
  bytes: Uint8Array;
  found: boolean[];
  empty: number[];
}

const WORKER = workerModule(import.meta.url, "leaf-hash-worker");

/** A small pool; `hash` keeps results in submission order for the caller to await. */
export class LeafHasherPool {
  private readonly workers: WorkerCalls<HashReply>[] = [];
  private next = 0;
  private tiles: WorkerCalls<HashReply> | null = null;
  private closed = false;

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.workers.push(startHasher());
  }

  /** Leaf hashes of a bundle's lines (the worker gets a copy of the bytes). */
  async hash(bundle: Uint8Array): Promise<Uint8Array> {
    if (this.workers.length === 0) return bundleLeafHashes(bundle);
    return (await this.post(new Uint8Array(bundle))).hashes;
  }

  /**
   * Leaf hashes of a bundle's lines, lending the worker the memory they sit in instead of
   * copying it: `bundle.buffer` must belong to the caller alone (it is detached until the
   * promise resolves, with the same memory back, to reuse). Reading in place from a
   * SharedArrayBuffer would avoid the round trip, but V8 copies into shared memory several
   * times slower, and every commit's bytes are copied into it.
   */
  async hashLent(bundle: Uint8Array): Promise<{ hashes: Uint8Array; memory: ArrayBuffer }> {
    if (this.workers.length === 0)
      return { hashes: bundleLeafHashes(bundle), memory: bundle.buffer as ArrayBuffer };
    return this.post(bundle);
  }

  /**
   * Leaf hashes of a bundle the caller gives up (a read from disk or the network), with its
   * bytes back for callers that still read them, and which of `find` it holds (bundleHolds).
   * When the bundle spans all of its memory, that memory travels to the worker and back
   * (as hashLent) instead of being copied; a view into shared memory (Buffer's pool, a prefix
   * of a larger read) is copied.
   */
  async hashGiven(bundle: Uint8Array, find: readonly string[] = []): Promise<Hashed> {
    if (this.workers.length === 0) return hashedHere(bundle, find);
    const failed = (): Error => new Error("bundle ends without a newline");
    if (spansBuffer(bundle)) return this.postGiven(bundle, { find: [...find] }, failed);
    // A copy goes to the worker: the caller's view stays as it is, and is the bytes.
    return { ...(await this.postGiven(new Uint8Array(bundle), { find: [...find] }, failed)), bytes: bundle };
  }

  /**
   * The same of a bundle stored compressed (bundle-codec.ts): decompressed and hashed on a
   * worker, with the bundle bytes it decompressed to. A file that does not decompress (damage,
   * a hostile file) is a LogError("corrupt") naming `where`; the worker's memory is bounded as
   * decompressBundle bounds it.
   */
  async hashCompressed(stored: Uint8Array, where: string, find: readonly string[] = []): Promise<Hashed> {
    if (this.workers.length === 0) {
      return hashedHere(decompressBundle(stored, where), find);
    }
    const owned = spansBuffer(stored) ? stored : new Uint8Array(stored);
    return this.postGiven(
      owned,
      { compressed: { where }, find: [...find] },
      (error) => new LogError("corrupt", error ?? `${where}: does not decompress to entries`),
    );
  }

  /** Transfers `bundle`'s memory to a worker with `extra` asked of it; `failed` makes the error to throw. */
  private async postGiven(
    bundle: Uint8Array,
    extra: { compressed?: { where: string }; find: string[] },
    failed: (error: string | undefined) => Error,
  ): Promise<Hashed> {
    const memory = bundle.buffer as ArrayBuffer;
    const reply = await this.worker().call({ data: memory, offset: 0, length: bundle.length, ...extra }, [
      memory,
    ]);
    if (!reply.ok) throw failed(reply.error);
    if (!("hashes" in reply)) throw new Error("the leaf hashing worker did not answer with leaf hashes");
    return {
      hashes: reply.hashes,
      bytes: new Uint8Array(reply.data),
      found: reply.found ?? [],
      empty: reply.empty ?? [],
    };
  }

  /**
   * The RFC 6962 root of each full level-0 tile in `tiles` (256 leaf hashes each, concatenated,
   * as TileBuilder.fillingTiles gives them), hashed on a worker. `tiles` is given up.
   */
  async tileRoots(tiles: Uint8Array): Promise<Hash[]> {
    if (tiles.length % TILE_BYTES !== 0) throw new Error(`${tiles.length} bytes are not whole tiles`);
    if (tiles.length === 0) return [];
    if (this.workers.length === 0) return splitTileData(perfectTreeRoots(tiles, TILE_WIDTH));
    const memory = (spansBuffer(tiles) ? tiles : new Uint8Array(tiles)).buffer as ArrayBuffer;
    const reply = await this.tileWorker().call({ tiles: memory }, [memory]);
    if (!("roots" in reply)) throw new Error("the leaf hashing worker did not answer with tile roots");
    return splitTileData(reply.roots);
  }

  /** Transfers `bytes.buffer` to a worker; resolves with the hashes and that buffer back. */
  private async post(bytes: Uint8Array): Promise<{ hashes: Uint8Array; memory: ArrayBuffer }> {
    const memory = bytes.buffer as ArrayBuffer;
    const reply = await this.worker().call(
      { data: memory, offset: bytes.byteOffset, length: bytes.byteLength },
      [memory],
    );
    if (!reply.ok) throw new Error("bundle ends without a newline");
    if (!("hashes" in reply)) throw new Error("the leaf hashing worker did not answer with leaf hashes");
    return { hashes: reply.hashes, memory: reply.data };
  }

  /**
   * The next worker in turn. One that died is replaced: the calls it held have failed (their
   * callers fall back or retry), and integration, which needs tile roots, must not stop for good.
   */
  private worker(): WorkerCalls<HashReply> {
    const i = this.next++ % this.workers.length;
    return (this.workers[i] = this.alive(this.workers[i]!));
  }

  /**
   * Tile roots have a worker of their own, started on first use: behind a queue of leaf
   * hashing under full load, integration fell further behind the appends (a soak of 2.5M
   * entries: 240–300k entries unintegrated against 140–200k, and 80 MB more RSS in lent
   * commit buffers).
   */
  private tileWorker(): WorkerCalls<HashReply> {
    return (this.tiles = this.alive(this.tiles));
  }

  /** `worker`, or a new one in its place when there is none or it stopped (unless closed). */
  private alive(worker: WorkerCalls<HashReply> | null): WorkerCalls<HashReply> {
    if (worker !== null && (!worker.stopped || this.closed)) return worker;
    if (this.closed) throw new Error("the leaf hasher pool is closed");
    return startHasher();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers, ...(this.tiles ? [this.tiles] : [])].map((w) => w.terminate()));
  }
}

/** hashGiven's answer, worked out on this thread (a pool without workers). */
function hashedHere(bundle: Uint8Array, find: readonly string[]): Hashed {
  const empty: number[] = [];
  return { hashes: bundleLeafHashes(bundle, empty), bytes: bundle, found: bundleHolds(bundle, find), empty };
}

function startHasher(): WorkerCalls<HashReply> {
  return new WorkerCalls(startWorker(WORKER), "leaf hashing worker");
}
