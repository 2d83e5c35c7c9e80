// Read endpoints: the query API, counts and proofs (read credential, authorized per namespace),
// the verifier key, and the static log in C2SP tlog-tiles layout under /log/: the checkpoint
// and hash tiles public, so anyone can check the tree; entry bundles, which hold the events,
// for full-log readers (auditors, mirrors). Everything is read through the log's LogReader,
// whatever driver stores it. Documented in docs/api.md and docs/openapi.yaml.
import type { ServerResponse } from "node:http";
import { Counter, type Registry } from "prom-client";
import type { OpenIngest } from "../../ingest/open-ingest.js";
import { IndexError } from "../../index/errors.js";
import type { QueryIndex } from "../../index/db.js";
import { startIndexer, type Indexer, type IndexerOptions } from "../../index/indexer.js";
import { DEFAULT_INDEX_MAX_LAG_MS, indexLagGate, type IndexLagGate } from "../../index/lag-gate.js";
import { eventItem } from "../../index/present.js";
import { encodeCursor, parseFilter, type Cursor, type EventFilter } from "../../index/query.js";
import { resolveEntries, type ResolvedEntry } from "../../index/resolve.js";
import { leavesCovered } from "../../store/log-reader.js";
import { parsedEntry } from "../../index/row.js";
import { parseTopDimension } from "../../index/top-dimension.js";
import type { AuditLog, LogReader, SignedCheckpoint } from "../../store/types.js";
import {
  encodeBase64,
  hashLeaf,
  parseTilePath,
  proveConsistency,
  proveInclusion,
  proveInclusions,
  type Hash,
  TILE_WIDTH,
} from "../../tlog/index.js";
import type { Access } from "../auth/access.js";
import { counterReadAtScrape, gaugeReadAtScrape } from "../metrics.js";
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
  /**
   * The checkpoint /log/checkpoint serves when witnesses cosign the log (src/publish/): the
   * newest one the witness policy accepts, with its cosignatures; null while none is.
   */
  publishedCheckpoint?: () => string | null;
  /** The log's verifier key, served on /v1/keys for clients to compare with the one they pin. */
  verifierKey: string;
}

/** Largest page one HTTP request may ask for; longer answers page with the cursor. */
export const HTTP_MAX_LIMIT = 1000;
/** Largest `top` answer. */
export const HTTP_MAX_TOP = 10_000;
/** A page stops early once its entries add up to this many bytes (at least one entry is sent). */
export const PAGE_MAX_BYTES = 16 * 1024 * 1024;
/** How long the list of namespaces (for narrowing a namespace-limited reader's listing) is reused. */
const NAMESPACES_TTL_MS = 30_000;

/**
 * A full tile never changes; a partial tile of a given width never does either, but is deleted
 * once the tile fills. Entry bundles hold event content: no shared cache may keep them.
 */
function cacheControl(full: boolean, shared: boolean): string {
  return `${shared ? "public" : "private"}, ${full ? "max-age=31536000, immutable" : "max-age=3600"}`;
}

/** A query on the index; while the index is rebuilt from the log, a 503 that says so. */
export function indexRead<T>(index: IndexReads, query: (i: QueryIndex) => T): T {
  try {
    return index.read(query);
  } catch (err) {
    if (err instanceof IndexError && err.code === "rebuilding")
      throw new HttpError(503, err.message, { "Retry-After": "10" });
    throw err;
  }
}

function badRequest(err: unknown): never {
  if (err instanceof IndexError && (err.code === "bad-filter" || err.code === "bad-cursor")) {
    throw new HttpError(400, err.message);
  }
  throw err;
}

/** The query string by name; `take` names are removed (they are not filters). */
function rawParams(
  url: URL,
  take: readonly string[] = [],
): { raw: Record<string, string[]>; taken: Record<string, string> } {
  const raw: Record<string, string[]> = {};
  const taken: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (take.includes(k)) {
      if (k in taken) throw new HttpError(400, `${k}: given twice`);
      taken[k] = v;
    } else (raw[k] ??= []).push(v);
  }
  return { raw, taken };
}

function intText(name: string, text: string): number {
  if (!/^(0|[1-9]\d*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new HttpError(400, `${name}: "${text}" is not a non-negative integer`);
  }
  return Number(text);
}

function intParam(url: URL, name: string, fallback?: number): number {
  const text = url.searchParams.get(name);
  if (text === null) {
    if (fallback === undefined) throw new HttpError(400, `${name}: missing`);
    return fallback;
  }
  return intText(name, text);
}

function boolText(name: string, text: string | undefined): boolean {
  if (text === undefined || text === "false" || text === "0") return false;
  if (text === "" || text === "true" || text === "1") return true;
  throw new HttpError(400, `${name}: "${text}" is not true or false`);
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

/** Keeps entries up to PAGE_MAX_BYTES (at least one); returns how many. */
function withinBudget(entries: readonly ResolvedEntry[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    bytes += (entries[i] as ResolvedEntry).data.length;
    if (bytes > PAGE_MAX_BYTES && i > 0) return i;
  }
  return entries.length;
}

/**
 * One entry's bytes, parsed, once `access` may `get` it in the namespace they name (the cluster
 * scope for cluster-scoped events and records): 410 for a pruned or erased entry, told only to a
 * full-log reader since its namespace went with its bytes.
 */
export async function readAuthorized(
  log: LogReader,
  idx: number,
  access: Access,
): Promise<{ data: Uint8Array; leaf: Hash; value: unknown }> {
  let data: Uint8Array | undefined;
  for await (const e of log.readEntries(idx, idx + 1)) {
    if (e.gone !== undefined) {
      await access.fullLog("get");
      throw new HttpError(410, `entry ${idx}: ${e.gone.state} (${e.gone.reason})`);
    }
    data = e.data;
  }
  if (data === undefined) throw new HttpError(404, `entry ${idx}: not readable`);
  const leaf = hashLeaf(data);
  const { row, value } = parsedEntry(idx, data, leaf);
  await access.check("get", row.namespace);
  return { data, leaf, value };
}

/** The namespaces index.db holds, read again at most every NAMESPACES_TTL_MS. */
export function knownNamespaces(index: IndexReads): () => string[] {
  let namespaces: { at: number; list: string[] } | undefined;
  return () => {
    if (namespaces === undefined || Date.now() - namespaces.at > NAMESPACES_TTL_MS)
      namespaces = { at: Date.now(), list: indexRead(index, (i) => i.namespaces()) };
    return namespaces.list;
  };
}

/**
 * Narrows `filter` to what `access` may list: each namespace it names must be allowed (else
 * 403); without one, a namespace-limited reader gets the allowed namespaces among `known`.
 */
export async function narrowToAccess(
  filter: EventFilter,
  access: Access,
  known: () => readonly string[],
): Promise<void> {
  const allowed = await access.namespaces("list", filter.namespaces, known);
  if (allowed !== undefined) filter.allowedNamespaces = allowed;
}

export function queryRoutes(deps: QueryRouteDeps): Route[] {
  const { log, index } = deps;
  const namespaces = knownNamespaces(index);

  /** The filter of the query string, pinned to a log size and narrowed to what `access` may list. */
  const eventFilter = async (
    raw: Record<string, string[]>,
    access: Access,
    size: number,
  ): Promise<EventFilter> => {
    let filter: EventFilter;
    try {
      filter = parseFilter(raw);
    } catch (err) {
      badRequest(err);
    }
    if (filter.limit > HTTP_MAX_LIMIT)
      throw new HttpError(400, `limit: at most ${HTTP_MAX_LIMIT} per page; page with cursor`);
    filter.logSize = filter.cursor?.size ?? size;
    if (filter.logSize > size)
      throw new HttpError(400, `cursor: from a log of ${filter.logSize} entries, but this one has ${size}`);
    await narrowToAccess(filter, access, namespaces);
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
      throw new HttpError(404, (err as Error).message, {}, { cause: err });
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
      async handle({ url, res, access }) {
        const cp = log.latestCheckpoint();
        const { raw, taken } = rawParams(url, ["proofs", "tree-size"]);
        const proofs = boolText("proofs", taken["proofs"]);
        const filter = await eventFilter(raw, access, cp.size);
        const treeSize =
          taken["tree-size"] === undefined ? cp.size : intText("tree-size", taken["tree-size"]);
        if (treeSize > cp.size || treeSize < (filter.logSize ?? 0))
          throw new HttpError(
            400,
            `tree-size: ${treeSize} is not between the listing's log size ${filter.logSize} and the checkpoint's ${cp.size}`,
          );
        const found = indexRead(index, (i) => i.search(filter, Date.now() * 1000));
        const resolved = await resolveEntries(log, found.rows);
        const kept = withinBudget(resolved);
        const entries = resolved.slice(0, kept);
        let next: Cursor | undefined = found.next;
        if (kept < resolved.length) {
          const last = (entries[entries.length - 1] as ResolvedEntry).row;
          next = { timeUs: last.timeUs, idx: last.idx, size: filter.logSize as number };
        }
        const metadata = next === undefined ? {} : { continue: encodeCursor(next) };
        if (!proofs) {
          jsonReply(res, 200, {
            apiVersion: "kubetrail.dev/v1",
            kind: "EventList",
            metadata,
            items: entries.map(eventItem),
          });
          return;
        }
        // One read of the stored hashes for the whole page: its proofs share most of them. A
        // pruned or erased entry has no bytes to prove: it says so instead.
        const present = entries.filter((e) => e.gone === undefined);
        const inclusion = await proveInclusions(
          treeSize,
          present.map((e) => e.row.idx),
          log.hashReader(),
        );
        const proofOf = new Map(present.map((e, i) => [e.row.idx, inclusion[i] as Hash[]]));
        const items = entries.map((e) =>
          e.gone !== undefined
            ? { index: e.row.idx, gone: { state: e.gone.state, reason: e.gone.reason } }
            : {
                index: e.row.idx,
                entry: Buffer.from(e.data).toString("utf8"),
                inclusionProof: (proofOf.get(e.row.idx) as Hash[]).map(encodeBase64),
              },
        );
        jsonReply(res, 200, {
          apiVersion: "kubetrail.dev/v1",
          kind: "EventList",
          metadata,
          treeSize,
          checkpoint: checkpointJson(cp, deps.publishedCheckpoint?.()),
          items,
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/events/:index",
      scope: "read",
      async handle({ params, res, access }) {
        const text = params["index"] ?? "";
        if (!/^(0|[1-9]\d*)$/.test(text)) throw new HttpError(400, `index: "${text}" is not a log index`);
        const idx = Number(text);
        const cp = log.latestCheckpoint();
        if (idx >= cp.size)
          throw new HttpError(404, `entry ${idx}: not in the log of size ${cp.size} (latest checkpoint)`);
        const { data, leaf, value } = await readAuthorized(log, idx, access);
        const proof = await proveInclusion(cp.size, idx, log.hashReader());
        jsonReply(res, 200, {
          index: idx,
          entry: Buffer.from(data).toString("utf8"),
          event: value ?? null,
          leafHash: encodeBase64(leaf),
          inclusionProof: proof.map(encodeBase64),
          checkpoint: checkpointJson(cp, deps.publishedCheckpoint?.()),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/top/:dimension",
      scope: "read",
      async handle({ params, url, res, access }) {
        let dimension;
        try {
          dimension = parseTopDimension(params["dimension"] ?? "");
        } catch (err) {
          throw new HttpError(404, (err as Error).message);
        }
        const cp = log.latestCheckpoint();
        const { raw, taken } = rawParams(url, ["top"]);
        const top = taken["top"] === undefined ? 10 : intText("top", taken["top"]);
        if (top < 1 || top > HTTP_MAX_TOP)
          throw new HttpError(400, `top: "${top}" is not from 1 to ${HTTP_MAX_TOP}`);
        if (raw["limit"] !== undefined || raw["cursor"] !== undefined || raw["asc"] !== undefined)
          throw new HttpError(400, "limit, cursor and asc do not apply to counts (use top)");
        const filter = await eventFilter(raw, access, cp.size);
        const items = indexRead(index, (i) => i.top(dimension, filter, Date.now() * 1000, top));
        jsonReply(res, 200, { dimension, treeSize: cp.size, items });
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
          checkpoint: checkpointJson(cp, deps.publishedCheckpoint?.()),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/keys",
      scope: "public",
      async handle({ res }) {
        jsonReply(res, 200, { origin: log.origin, verifierKey: deps.verifierKey });
      },
    },
    {
      method: "GET",
      pattern: "/log/checkpoint",
      scope: "public",
      async handle({ res }) {
        const published = deps.publishedCheckpoint ? deps.publishedCheckpoint() : log.latestCheckpoint().note;
        if (published === null)
          throw new HttpError(
            503,
            "no checkpoint has the witness cosignatures it needs yet (failMode closed)",
            {
              "Retry-After": "5",
            },
          );
        const note = Buffer.from(published, "utf8");
        sendBytes(res, note, "text/plain; charset=utf-8", "no-cache");
      },
    },
    // Entry bundles hold whole events: a full-log read credential. Matched before the public
    // tile route, which refuses them too, whatever the spelling of the path.
    {
      method: "GET",
      pattern: "/log/tile/entries/*",
      scope: "read",
      async handle({ params, req, res, access }) {
        // A namespace-limited Kubernetes reader must not read bundles of everyone's events.
        await access.fullLog("get");
        await serveTile(`tile/entries/${params["*"] ?? ""}`, "entries", res, req.headers["accept-encoding"]);
      },
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
  options: Pick<IndexerOptions, "onError" | "onRebuild" | "writeIn"> & {
    /**
     * Webhook batches wait (a bounded time each) while the index is further behind what ingest
     * acknowledged than this, beyond the log's integration interval (lag-gate.ts); 0: never.
     * Default DEFAULT_INDEX_MAX_LAG_MS.
     */
    maxLagMs?: number;
  } = {},
  publishedCheckpoint?: () => string | null,
): ServeExtension & {
  indexer(log: AuditLog): Indexer;
  running(): Indexer | undefined;
  lagGate(): IndexLagGate | undefined;
} {
  const { maxLagMs = DEFAULT_INDEX_MAX_LAG_MS, ...hooks } = options;
  let indexer: Indexer | undefined;
  let gate: IndexLagGate | undefined;
  // Fed from ingest's parsed events when serve's pipeline is at hand (routes and start get it
  // first; other extensions only look the running indexer up).
  const open = (log: AuditLog, pipeline?: OpenIngest["pipeline"]): Indexer =>
    (indexer ??= startIndexer(log, stateDir, { ...hooks, ...(pipeline ? { pipeline } : {}) }));
  return {
    start: async (ingest, ctx) => {
      const running = open(ingest.log, ingest.pipeline);
      registerIndexMetrics(running, ctx.registry);
      if (maxLagMs > 0) {
        const started = indexLagGate(running, maxLagMs, { allowanceMs: ingest.log.integrateIntervalMs });
        registerIndexWaitMetrics(started, ctx.registry);
        gate = started;
      }
      return () => running.stop();
    },
    beforeIngest: () => gate?.wait() ?? Promise.resolve(),
    routes: (ingest) =>
      queryRoutes({
        log: ingest.log,
        index: open(ingest.log, ingest.pipeline),
        verifierKey: ingest.log.verifierKey,
        ...(publishedCheckpoint ? { publishedCheckpoint } : {}),
      }),
    degraded: () => {
      const status = indexer?.status();
      if (status === undefined || status.state === "ready") return [];
      return [{ part: "index", ...status }];
    },
    /** The running indexer, for other extensions' reads (the UI's). */
    indexer: (log) => open(log),
    /** The indexer once started, if it was (for benches and status displays). */
    running: () => indexer,
    /** The back-pressure on ingest once started, if a bound is set (for benches). */
    lagGate: () => gate,
  };
}

/** The index's lag behind the log on /metrics, read on each scrape. */
export function registerIndexMetrics(
  indexer: Pick<Indexer, "lag" | "backlog" | "sources">,
  registry: Registry,
): void {
  gaugeReadAtScrape(
    registry,
    "kubetrail_index_lag_entries",
    "Entries covered by the latest signed checkpoint that the query index has not indexed yet",
    () => indexer.lag().entries,
  );
  gaugeReadAtScrape(
    registry,
    "kubetrail_index_lag_seconds",
    "Seconds the oldest integrated entry not yet in the query index has waited (0 when caught up)",
    () => indexer.lag().seconds,
  );
  gaugeReadAtScrape(
    registry,
    "kubetrail_index_ack_lag_seconds",
    "Seconds the oldest acknowledged entry not yet in the query index has waited, its checkpoint included but not the log's wait for cosigners (what --index-max-lag bounds)",
    () => indexer.backlog().seconds,
  );
  const sourced = "kubetrail_index_entries_total";
  registry.removeSingleMetric(sourced);
  new Counter({
    name: sourced,
    help: "Entries indexed, by source: memory (as ingest parsed them) or log (read and parsed again)",
    labelNames: ["source"],
    registers: [registry],
    collect() {
      const s = indexer.sources();
      this.reset();
      this.inc({ source: "memory" }, s.fromMemory);
      this.inc({ source: "log" }, s.fromLog);
    },
  });
}

/** What the index's back-pressure cost webhook ingest, on /metrics. */
function registerIndexWaitMetrics(gate: IndexLagGate, registry: Registry): void {
  counterReadAtScrape(
    registry,
    "kubetrail_ingest_index_wait_seconds_total",
    "Seconds webhook batches waited for the query index to come back within --index-max-lag",
    () => gate.waited().seconds,
  );
  counterReadAtScrape(
    registry,
    "kubetrail_ingest_index_waits_total",
    "Webhook batches that waited for the query index (--index-max-lag)",
    () => gate.waited().batches,
  );
}

/** A signed checkpoint as the proof endpoints return it, beside the proof it anchors. */
/**
 * A checkpoint as answers carry it. When witnesses cosign the log, the published note of the
 * same tree is given instead of the log's own: the same checkpoint with the cosignatures
 * gathered since, so a client with a witness policy can accept it.
 */
function checkpointJson(
  cp: SignedCheckpoint,
  published?: string | null,
): { size: number; rootHash: string; note: string } {
  const body = cp.note.slice(0, cp.note.indexOf("\n\n") + 2);
  const note = published && body.length > 2 && published.startsWith(body) ? published : cp.note;
  return { size: cp.size, rootHash: encodeBase64(cp.rootHash), note };
}
