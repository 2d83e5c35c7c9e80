// Read endpoints: the query API and proofs (read credential), and the static log in C2SP
// tlog-tiles layout under /log/: the checkpoint and hash tiles public, so anyone can check
// the tree; entry bundles, which hold the events, for full-log readers (auditors, mirrors).
// Everything is read through the log's LogReader, whatever driver stores it.
import type { ServerResponse } from "node:http";
import { IndexError } from "../../index/errors.js";
import type { QueryIndex } from "../../index/db.js";
import { startIndexer, type Indexer } from "../../index/indexer.js";
import { eventList } from "../../index/present.js";
import { parseFilter, type EventFilter } from "../../index/query.js";
import { resolveEntries } from "../../index/resolve.js";
import type { AuditLog, LogReader, SignedCheckpoint } from "../../store/types.js";
import {
  encodeBase64,
  hashLeaf,
  parseTilePath,
  proveConsistency,
  proveInclusion,
  TILE_WIDTH,
  type Tile,
} from "../../tlog/index.js";
import { HttpError, type Route } from "../route.js";
import type { ServeExtension } from "../run-serve.js";
import { jsonReply } from "../server.js";

/** Reads on the query index: an Indexer, which answers IndexError("rebuilding") while it refills. */
export interface IndexReads {
  read<T>(query: (index: QueryIndex) => T): T;
}

export interface QueryRouteDeps {
  log: LogReader;
  index: IndexReads;
}

/** Largest page one HTTP request may ask for; the CLI reads the index directly. */
export const HTTP_MAX_LIMIT = 1000;

/**
 * A full tile never changes; a partial tile of a given width never does either, but is deleted
 * once the tile fills. Entry bundles hold event content: no shared cache may keep them.
 */
function cacheControl(full: boolean, shared: boolean): string {
  return `${shared ? "public" : "private"}, ${full ? "max-age=31536000, immutable" : "max-age=3600"}`;
}

function badRequest(err: unknown): never {
  if (err instanceof IndexError && (err.code === "bad-filter" || err.code === "bad-cursor")) {
    throw new HttpError(400, err.message);
  }
  throw err;
}

/** A query on the index; while the index is rebuilt from the log, a 503 that says so. */
function indexRead<T>(index: IndexReads, query: (i: QueryIndex) => T): T {
  try {
    return index.read(query);
  } catch (err) {
    if (err instanceof IndexError && err.code === "rebuilding")
      throw new HttpError(503, err.message, { "Retry-After": "10" });
    throw err;
  }
}

function rawParams(url: URL): Record<string, string[]> {
  const raw: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (raw[k] ??= []).push(v);
  return raw;
}

function intParam(url: URL, name: string, fallback?: number): number {
  const text = url.searchParams.get(name);
  if (text === null) {
    if (fallback === undefined) throw new HttpError(400, `${name}: missing`);
    return fallback;
  }
  if (!/^(0|[1-9]\d*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new HttpError(400, `${name}: "${text}" is not a non-negative integer`);
  }
  return Number(text);
}

/** Number of leaves a tile's hashes cover: beyond the signed tree size it must not be served. */
function leavesCovered(tile: Tile): bigint {
  return (
    (BigInt(tile.index) * BigInt(TILE_WIDTH) + BigInt(tile.width)) * BigInt(TILE_WIDTH) ** BigInt(tile.level)
  );
}

function sendBytes(
  res: ServerResponse,
  data: Uint8Array,
  contentType: string,
  cache: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(200, {
    "Content-Type": contentType,
    "Content-Length": data.length,
    "Cache-Control": cache,
    ...extra,
  });
  res.end(data);
}

/** Whether an Accept-Encoding header accepts `coding` (RFC 9110 §12.5.3: listed with q > 0, or `*`). */
export function acceptsEncoding(header: string | undefined, coding: string): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name === coding) return weight > 0;
    if (name === "*") star = weight > 0;
  }
  return star;
}

export function queryRoutes(deps: QueryRouteDeps): Route[] {
  const { log, index } = deps;

  const eventFilter = (url: URL): EventFilter => {
    let filter: EventFilter;
    try {
      filter = parseFilter(rawParams(url));
    } catch (err) {
      badRequest(err);
    }
    if (filter.limit > HTTP_MAX_LIMIT)
      throw new HttpError(400, `limit: at most ${HTTP_MAX_LIMIT} per page; page with cursor`);
    filter.logSize = log.latestCheckpoint().size;
    return filter;
  };

  /** A tile or bundle of the static log, never beyond the latest checkpoint. */
  const serveTile = async (
    path: string,
    kind: "hash" | "entries",
    res: ServerResponse,
    acceptEncoding?: string,
  ): Promise<void> => {
    let parsed;
    try {
      parsed = parseTilePath(path);
    } catch (err) {
      throw new HttpError(404, (err as Error).message);
    }
    if (parsed.kind !== kind) throw new HttpError(404, `${path}: not found`);
    const size = BigInt(log.latestCheckpoint().size);
    const width = parsed.kind === "hash" ? parsed.tile.width : parsed.width;
    const cache = cacheControl(width === TILE_WIDTH, parsed.kind === "hash");
    if (parsed.kind === "hash") {
      if (leavesCovered(parsed.tile) > size)
        throw new HttpError(404, `${path}: beyond the latest checkpoint`);
      const data = await log.readTile(parsed.tile);
      if (data === null) throw new HttpError(404, `${path}: not found`);
      sendBytes(res, data, "application/octet-stream", cache);
    } else {
      if (BigInt(parsed.index) * BigInt(TILE_WIDTH) + BigInt(parsed.width) > size) {
        throw new HttpError(404, `${path}: beyond the latest checkpoint`);
      }
      // A full bundle the log stores compressed goes out as stored to a client that takes the
      // encoding; every other answer is the bundle bytes themselves.
      if (parsed.width === TILE_WIDTH) {
        const encoded = await log.readEncodedBundle(parsed.index);
        if (encoded !== null && acceptsEncoding(acceptEncoding, encoded.encoding)) {
          sendBytes(res, encoded.data, "application/octet-stream", cache, {
            "Content-Encoding": encoded.encoding,
            Vary: "Accept-Encoding",
          });
          return;
        }
      }
      const bundle = await log.readEntryBundle(parsed.index, parsed.width);
      if (bundle === null) throw new HttpError(404, `${path}: not found`);
      // Gone on purpose: 410 tells a verifier or mirror it was pruned, not lost.
      if (bundle.gone !== undefined)
        throw new HttpError(410, `${path}: ${bundle.gone.state} (${bundle.gone.reason})`);
      sendBytes(res, bundle.data, "application/octet-stream", cache, { Vary: "Accept-Encoding" });
    }
  };

  return [
    {
      method: "GET",
      pattern: "/v1/events",
      scope: "read",
      async handle({ url, res }) {
        const filter = eventFilter(url);
        const found = indexRead(index, (i) => i.search(filter, Date.now() * 1000));
        const entries = await resolveEntries(log, found.rows);
        jsonReply(res, 200, eventList(entries, found.next));
      },
    },
    {
      method: "GET",
      pattern: "/v1/events/:index",
      scope: "read",
      async handle({ params, res }) {
        const text = params["index"] ?? "";
        if (!/^(0|[1-9]\d*)$/.test(text)) throw new HttpError(400, `index: "${text}" is not a log index`);
        const idx = Number(text);
        const cp = log.latestCheckpoint();
        if (idx >= cp.size)
          throw new HttpError(404, `entry ${idx}: not in the log of size ${cp.size} (latest checkpoint)`);
        let data: Uint8Array | undefined;
        for await (const e of log.readEntries(idx, idx + 1)) {
          if (e.gone !== undefined)
            throw new HttpError(410, `entry ${idx}: ${e.gone.state} (${e.gone.reason})`);
          data = e.data;
        }
        if (data === undefined) throw new HttpError(404, `entry ${idx}: not readable`);
        const proof = await proveInclusion(cp.size, idx, log.hashReader());
        const entry = Buffer.from(data).toString("utf8");
        jsonReply(res, 200, {
          index: idx,
          entry,
          event: JSON.parse(entry) as unknown,
          leafHash: encodeBase64(hashLeaf(data)),
          inclusionProof: proof.map(encodeBase64),
          checkpoint: checkpointJson(cp),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/proof/consistency",
      scope: "read",
      async handle({ url, res }) {
        const cp = log.latestCheckpoint();
        const from = intParam(url, "from");
        const to = intParam(url, "to", cp.size);
        if (to > cp.size)
          throw new HttpError(400, `to: ${to} is beyond the latest checkpoint's size ${cp.size}`);
        if (from > to) throw new HttpError(400, `from: ${from} is larger than to (${to})`);
        const proof = await proveConsistency(from, to, log.hashReader());
        jsonReply(res, 200, {
          from,
          to,
          consistencyProof: proof.map(encodeBase64),
          checkpoint: checkpointJson(cp),
        });
      },
    },
    {
      method: "GET",
      pattern: "/log/checkpoint",
      scope: "public",
      async handle({ res }) {
        const note = Buffer.from(log.latestCheckpoint().note, "utf8");
        sendBytes(res, note, "text/plain; charset=utf-8", "no-cache");
      },
    },
    // Entry bundles hold whole events: a full-log read credential. Matched before the public
    // tile route, which refuses them too, whatever the spelling of the path.
    {
      method: "GET",
      pattern: "/log/tile/entries/*",
      scope: "read",
      handle: ({ params, req, res }) =>
        serveTile(`tile/entries/${params["*"] ?? ""}`, "entries", res, req.headers["accept-encoding"]),
    },
    {
      method: "GET",
      pattern: "/log/tile/*",
      scope: "public",
      handle: ({ params, res }) => serveTile(`tile/${params["*"] ?? ""}`, "hash", res),
    },
  ];
}

/**
 * For `kubetrail serve`: keeps DATA/index.db fed from the open log and mounts queryRoutes on
 * the same index connection.
 */
export function queryServeExtension(
  stateDir: string,
  hooks: { onError?: (err: unknown) => void; onRebuild?: (reason: string) => void } = {},
): ServeExtension {
  let indexer: Indexer | undefined;
  const open = (log: AuditLog): Indexer => (indexer ??= startIndexer(log, stateDir, hooks));
  return {
    start: async (ingest) => {
      const running = open(ingest.log);
      return () => running.stop();
    },
    routes: (ingest) => queryRoutes({ log: ingest.log, index: open(ingest.log) }),
    degraded: () => {
      const status = indexer?.status();
      if (status === undefined || status.state === "ready") return [];
      return [{ part: "index", ...status }];
    },
  };
}

/** A signed checkpoint as the proof endpoints return it, beside the proof it anchors. */
function checkpointJson(cp: SignedCheckpoint): { size: number; rootHash: string; note: string } {
  return { size: cp.size, rootHash: encodeBase64(cp.rootHash), note: cp.note };
}
