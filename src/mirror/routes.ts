// The mirror's HTTP endpoints. Submission (public: checkpoints are authenticated by the log's
// signature, entries by their proofs): POST /add-checkpoint, POST /add-entries. Monitoring, per
// log under /<origin hash>/ in tlog-tiles layout: the mirror checkpoint and hash tiles are
// public; entry bundles hold audit events and need a read credential, as on the log itself.
import type { ServerResponse } from "node:http";
import { HttpError, type Route } from "../server/route.js";
import { ENTRY_LENGTH_HEADER, parseTilePath, TILE_WIDTH } from "../tlog/index.js";
import { addCheckpointRoute, sendReply } from "../witness/routes.js";
import { originHash } from "../witness/witness.js";
import type { Mirror } from "./mirror.js";
import type { MirroredLog } from "./mirrored-log.js";

const IMMUTABLE = "public, max-age=31536000, immutable";
const PARTIAL = "public, max-age=3600";

function send(res: ServerResponse, data: Uint8Array, contentType: string, cache: string): void {
  res.writeHead(200, { "Content-Type": contentType, "Content-Length": data.length, "Cache-Control": cache });
  res.end(data);
}

export function mirrorRoutes(
  mirror: Mirror,
  origins: () => Iterable<string>,
  onReply?: (what: string, status: number) => void,
): Route[] {
  const byHash = async (hash: string): Promise<MirroredLog> => {
    for (const origin of origins()) {
      if (originHash(origin) !== hash) continue;
      const state = await mirror.state(origin);
      if (state) return state.log;
    }
    throw new HttpError(404, "this mirror does not mirror a log with that origin hash");
  };
  const tileFile = async (
    params: Record<string, string>,
    prefix: string,
    res: ServerResponse,
  ): Promise<void> => {
    const log = await byHash(params["hash"] ?? "");
    const path = `${prefix}${params["*"] ?? ""}`;
    let parsed;
    try {
      parsed = parseTilePath(path);
    } catch (err) {
      throw new HttpError(404, (err as Error).message);
    }
    if (parsed.kind === "hash") {
      const data = await log.readTile(parsed.tile);
      if (data === null) throw new HttpError(404, `${path}: not held (beyond the mirror checkpoint?)`);
      send(res, data, "application/octet-stream", parsed.tile.width === TILE_WIDTH ? IMMUTABLE : PARTIAL);
    } else {
      const pruned = log.prunedReason(parsed.index);
      // As the log answers for what its retention removed (tlog-tiles): gone, not missing.
      if (pruned !== null) throw new HttpError(410, `${path}: ${pruned}`);
      const data = await log.readBundle(parsed.index, parsed.width);
      if (data === null) throw new HttpError(404, `${path}: not held (beyond the mirror checkpoint?)`);
      send(res, data, "application/octet-stream", parsed.width === TILE_WIDTH ? IMMUTABLE : PARTIAL);
    }
  };
  return [
    addCheckpointRoute(
      (body) => mirror.addCheckpoint(body),
      (status) => onReply?.("add-checkpoint", status),
    ),
    {
      method: "POST",
      pattern: "/add-entries",
      scope: "public",
      async handle({ req, res }) {
        const lengths = String(req.headers[ENTRY_LENGTH_HEADER] ?? "uint16").toLowerCase();
        if (lengths !== "uint16" && lengths !== "uint32")
          throw new HttpError(400, `${ENTRY_LENGTH_HEADER}: ${lengths} (use uint16 or uint32)`);
        const encoding = String(req.headers["content-encoding"] ?? "identity").toLowerCase();
        if (encoding !== "identity" && encoding !== "gzip")
          throw new HttpError(415, `Content-Encoding ${encoding} is not supported (gzip or none)`, {
            "Accept-Encoding": "gzip",
          });
        const r = await mirror.addEntries(req, lengths === "uint32" ? 4 : 2, encoding === "gzip");
        onReply?.("add-entries", r.status);
        res.setHeader("Accept-Encoding", "gzip");
        // An early refusal leaves the rest of the body unread: the connection cannot be reused.
        if (r.status !== 200 && r.status !== 202 && !req.complete) res.setHeader("Connection", "close");
        sendReply(res, r);
      },
    },
    {
      method: "GET",
      pattern: "/:hash/checkpoint",
      scope: "public",
      async handle({ params, res }) {
        const cp = (await byHash(params["hash"] ?? "")).checkpoint();
        if (!cp) throw new HttpError(404, "this mirror holds no checkpoint of that log yet");
        send(res, Buffer.from(cp.note, "utf8"), "text/plain; charset=utf-8", "no-cache");
      },
    },
    {
      method: "GET",
      pattern: "/:hash/tile/entries/*",
      scope: "read",
      handle: ({ params, res }) => tileFile(params, "tile/entries/", res),
    },
    {
      method: "GET",
      pattern: "/:hash/tile/*",
      scope: "public",
      handle: ({ params, res }) => tileFile(params, "tile/", res),
    },
  ];
}
