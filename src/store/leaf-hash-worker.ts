// A leaf hashing worker thread (see leaf-hasher.ts): the leaf hashes of a bundle's lines, or
// the roots of full level-0 tiles, with tlog's own hashing. The bytes it is sent come back with
// the answer, so a caller that lent its buffer (hashLent) reuses it.
import { parentPort } from "node:worker_threads";
import { perfectTreeRoots } from "../tlog/hash.js";
import { TILE_WIDTH } from "../tlog/tile-path.js";
import { bundleLeafHashes } from "./bundle-format.js";
import type { HashReply, HashRequest } from "./leaf-hasher.js";

const port = parentPort;
if (!port) throw new Error("leaf-hash-worker runs only as a worker thread");

port.on("message", (req: HashRequest & { id: number }) => {
  let reply: HashReply;
  let transfer: ArrayBuffer[];
  if ("tiles" in req) {
    const roots = perfectTreeRoots(new Uint8Array(req.tiles), TILE_WIDTH);
    reply = { ok: true, roots };
    transfer = [roots.buffer as ArrayBuffer];
  } else {
    try {
      const hashes = bundleLeafHashes(new Uint8Array(req.data, req.offset, req.length));
      reply = { ok: true, hashes, data: req.data };
      transfer = [hashes.buffer as ArrayBuffer, req.data];
    } catch {
      reply = { ok: false, data: req.data };
      transfer = [req.data];
    }
  }
  port.postMessage({ ...reply, id: req.id }, transfer);
});
