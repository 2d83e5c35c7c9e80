// A leaf hashing worker thread (see leaf-hasher.ts): the leaf hashes of a bundle's lines (of a
// bundle stored compressed: decompressed here first, so a verifier's main thread only reads
// files and walks the tree), or the roots of full level-0 tiles, with tlog's own hashing. The
// bytes it is sent come back with the answer, so a caller that lent its buffer (hashLent)
// reuses it.
import { parentPort } from "node:worker_threads";
import { perfectTreeRoots } from "../tlog/hash.js";
import { TILE_WIDTH } from "../tlog/tile-path.js";
import { spansBuffer } from "../worker/calls.js";
import { nameThisThread } from "../worker/thread-name.js";
import { decompressBundle } from "./bundle-codec.js";
import { bundleHolds, bundleLeafHashes } from "./bundle-format.js";
import type { HashReply, HashRequest } from "./leaf-hasher.js";

/** The bundle bytes of a request, decompressed when it holds a compressed bundle, in memory of their own. */
function bundleOf(req: Extract<HashRequest, { data: ArrayBuffer }>): Uint8Array {
  const bytes = new Uint8Array(req.data, req.offset, req.length);
  if (req.compressed === undefined) return bytes;
  const out = decompressBundle(bytes, req.compressed.where);
  return spansBuffer(out) ? out : new Uint8Array(out);
}

const port = parentPort;
if (!port) throw new Error("leaf-hash-worker runs only as a worker thread");
nameThisThread("kt-leaf-hash");

port.on("message", (req: HashRequest & { id: number }) => {
  let reply: HashReply;
  let transfer: ArrayBuffer[];
  if ("tiles" in req) {
    const roots = perfectTreeRoots(new Uint8Array(req.tiles), TILE_WIDTH);
    reply = { ok: true, roots };
    transfer = [roots.buffer as ArrayBuffer];
  } else {
    try {
      const bundle = bundleOf(req);
      const find = req.find;
      const empty: number[] = [];
      const hashes = bundleLeafHashes(bundle, find && empty);
      const data = bundle.buffer as ArrayBuffer;
      reply = find
        ? { ok: true, hashes, data, found: bundleHolds(bundle, find), empty }
        : { ok: true, hashes, data };
      transfer = [hashes.buffer as ArrayBuffer, data];
    } catch (err) {
      reply = { ok: false, data: req.data, error: err instanceof Error ? err.message : String(err) };
      transfer = [req.data];
    }
  }
  port.postMessage({ ...reply, id: req.id }, transfer);
});
