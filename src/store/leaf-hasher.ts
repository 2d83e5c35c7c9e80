// Hashes entry bundles on worker threads. Leaf hashing is the largest CPU cost of both
// integration and verification, and SHA-256 of one bundle is independent of every other,
// so it runs beside the event loop instead of on it.
import { Worker } from "node:worker_threads";
import { spansBuffer, WorkerCalls } from "../worker/calls.js";
import { hashLeaf, rootFromLeafHashes, TILE_WIDTH, type Hash } from "../tlog/index.js";
import { splitBundle } from "./bundle-format.js";
import { splitTileData } from "./tile-builder.js";

const TILE_BYTES = TILE_WIDTH * 32;

/** Leaf hashes of one bundle's lines, concatenated (32 bytes each). */
export function hashBundleLines(bundle: Uint8Array): Uint8Array {
  const lines = splitBundle(bundle);
  const out = new Uint8Array(lines.length * 32);
  lines.forEach((line, i) => out.set(hashLeaf(line), i * 32));
  return out;
}

// Self-contained so it runs the same from dist/ and from the TypeScript sources under test.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { hash } = require("node:crypto");
// One-shot hashing of 0x00 ‖ line from a scratch buffer: much cheaper per leaf than a
// streaming Hash object, and most entries are a few KB. The digest comes as a latin1 string
// (one character per byte) written into the output: a Buffer result costs an allocation
// outside the heap per hash (about 0.8 µs more), and hex twice the characters.
let scratch = new Uint8Array(1 << 16);
const node = new Uint8Array(65);
node[0] = 1;
// The RFC 6962 root of each 256-hash tile in tiles: a perfect tree, so pairs level by level.
function tileRoots(tiles) {
  const roots = Buffer.from(new ArrayBuffer(tiles.length / 256));
  for (let t = 0; t * 8192 < tiles.length; t++) {
    let row = tiles.subarray(t * 8192, (t + 1) * 8192);
    for (let n = 128; n >= 1; n /= 2) {
      const up = n === 1 ? roots.subarray(t * 32, t * 32 + 32) : Buffer.allocUnsafe(n * 32);
      for (let i = 0; i < n; i++) {
        node.set(row.subarray(i * 64, i * 64 + 64), 1);
        up.write(hash("sha256", node, "latin1"), i * 32, "latin1");
      }
      row = up;
    }
  }
  return roots;
}
parentPort.on("message", ({ id, data, offset, length, tiles }) => {
  if (tiles !== undefined) {
    const roots = tileRoots(new Uint8Array(tiles));
    parentPort.postMessage({ id, ok: true, roots }, [roots.buffer]);
    return;
  }
  // A Buffer view: its indexOf is memchr, a typed array's is a slow generic loop.
  const bytes = Buffer.from(data, offset, length);
  let count = 0;
  for (let nl = bytes.indexOf(10); nl !== -1; nl = bytes.indexOf(10, nl + 1)) count++;
  const ok = bytes.length === 0 || bytes[bytes.length - 1] === 10;
  const out = Buffer.from(new ArrayBuffer(count * 32));
  for (let i = 0, start = 0; i < count; i++) {
    const nl = bytes.indexOf(10, start);
    const len = nl - start;
    if (scratch.length < len + 1) scratch = new Uint8Array(2 * (len + 1));
    scratch[0] = 0;
    scratch.set(bytes.subarray(start, nl), 1);
    out.write(hash("sha256", scratch.subarray(0, len + 1), "latin1"), i * 32, "latin1");
    start = nl + 1;
  }
  // The bytes go back too: a caller that lent its buffer (hashLent) reuses it.
  parentPort.postMessage({ id, ok, hashes: out, data }, [out.buffer, data]);
});
`;

type HashReply =
  | { ok: true; hashes: Uint8Array; data: ArrayBuffer }
  | { ok: false; data: ArrayBuffer }
  | { ok: true; roots: Uint8Array };

/** A small pool; `hash` keeps results in submission order for the caller to await. */
export class LeafHasherPool {
  private readonly workers: WorkerCalls<HashReply>[] = [];
  private next = 0;
  private tiles: WorkerCalls<HashReply> | null = null;
  private closed = false;

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.workers.push(startWorker());
  }

  /** Leaf hashes of a bundle's lines (the worker gets a copy of the bytes). */
  async hash(bundle: Uint8Array): Promise<Uint8Array> {
    if (this.workers.length === 0) return hashBundleLines(bundle);
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
      return { hashes: hashBundleLines(bundle), memory: bundle.buffer as ArrayBuffer };
    return this.post(bundle);
  }

  /**
   * Leaf hashes of a bundle the caller gives up (a read from disk or the network), with its
   * bytes back for callers that still read them. When the bundle spans all of its memory, that
   * memory travels to the worker and back (hashLent) instead of being copied; a view into
   * shared memory (Buffer's pool, a prefix of a larger read) is copied (hash).
   */
  async hashGiven(bundle: Uint8Array): Promise<{ hashes: Uint8Array; bytes: Uint8Array }> {
    if (!spansBuffer(bundle)) return { hashes: await this.hash(bundle), bytes: bundle };
    const { hashes, memory } = await this.hashLent(bundle);
    return { hashes, bytes: new Uint8Array(memory) };
  }

  /**
   * The RFC 6962 root of each full level-0 tile in `tiles` (256 leaf hashes each, concatenated,
   * as TileBuilder.fillingTiles gives them), hashed on a worker. `tiles` is given up.
   */
  async tileRoots(tiles: Uint8Array): Promise<Hash[]> {
    if (tiles.length % TILE_BYTES !== 0) throw new Error(`${tiles.length} bytes are not whole tiles`);
    if (tiles.length === 0) return [];
    if (this.workers.length === 0) {
      const roots: Hash[] = [];
      for (let at = 0; at < tiles.length; at += TILE_BYTES)
        roots.push(rootFromLeafHashes(splitTileData(tiles.subarray(at, at + TILE_BYTES))));
      return roots;
    }
    const memory = (spansBuffer(tiles) ? tiles : tiles.slice()).buffer as ArrayBuffer;
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
    return startWorker();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers, ...(this.tiles ? [this.tiles] : [])].map((w) => w.terminate()));
  }
}

function startWorker(): WorkerCalls<HashReply> {
  return new WorkerCalls(new Worker(WORKER_SOURCE, { eval: true }), "leaf hashing worker");
}
