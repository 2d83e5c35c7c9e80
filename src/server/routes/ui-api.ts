// Read endpoints the web UI needs beyond the query API: counts for the timeline (histogram and
// facets), and entries exactly as stored with their inclusion proofs against a checkpoint the
// browser has verified (events, one object's history, kubetrail's own records), so the browser
// can check every row itself. All behind the read credential (a token or a UI session) and
// authorized per namespace like the query API (records: the whole log only); all bounded: pages of at most HTTP_MAX_LIMIT entries, stats over a bounded in-memory store.
import type { ServerResponse } from "node:http";
import { IndexError } from "../../index/errors.js";
import { objectHistory } from "../../index/history.js";
import { parseKindName } from "../../index/kinds.js";
import { decodeCursor, encodeCursor, parseFilter, type Cursor, type EventFilter } from "../../index/query.js";
import { resolveEntries, type ResolvedEntry } from "../../index/resolve.js";
import { StatsLoadingError, type EventStats } from "../../index/stats/event-stats.js";
import type { Gone, LogReader } from "../../store/types.js";
import type { IndexRow } from "../../index/row.js";
import { encodeBase64, proveInclusion, type Hash, type HashReader } from "../../tlog/index.js";
import { HttpError, type Route } from "../route.js";
import { jsonReply } from "../server.js";
import {
  HTTP_MAX_LIMIT,
  indexRead,
  knownNamespaces,
  narrowToAccess,
  readAuthorized,
  type IndexReads,
} from "./query.js";
import { PRIVATE_NO_STORE } from "./ui.js";

export interface UiApiDeps {
  log: LogReader;
  /** The query extension's indexer: reads answer 503 while index.db is rebuilt. */
  index: IndexReads;
  stats: EventStats;
  /** The log's verifier key, offered to browsers that have not pinned one. */
  verifierKey: string;
  /** When the latest checkpoint was written (ms since the epoch), if known. */
  checkpointWrittenAt: () => number | undefined;
}

/** One entry as the UI checks it: the stored text, and the proof of its leaf in the tree of treeSize. */
export interface ProvenEntry {
  index: number;
  /** The entry's bytes as stored (UTF-8 JSON): the browser hashes exactly this. */
  entry: string;
  /** Inclusion proof (base64 hashes) against the tree of the answer's treeSize. */
  proof: string[];
  /** The log's bytes do not match the leaf hash the index recorded for this entry. */
  mismatch?: true;
  /** The entry was pruned or erased: `entry` is empty and only its leaf hash remains in the tree. */
  gone?: Gone;
}

const MAX_BUCKETS = 500;
const MAX_TOP = 100;
const MAX_HISTORY = 1000;
const UI_PARAMS = new Set(["tree-size", "buckets", "top"]);

function fail(err: unknown): never {
  if (err instanceof IndexError && (err.code === "bad-filter" || err.code === "bad-cursor"))
    throw new HttpError(400, err.message);
  throw err;
}

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const text = url.searchParams.get(name);
  if (text === null) return fallback;
  if (!/^[1-9]\d{0,9}$/.test(text) || Number(text) > max)
    throw new HttpError(400, `${name}: "${text}" is not a whole number from 1 to ${max}`);
  return Number(text);
}

/** The tree size proofs are made against: the one the browser verified, at most the latest checkpoint's. */
function treeSize(url: URL, log: LogReader): number {
  const latest = log.latestCheckpoint().size;
  const text = url.searchParams.get("tree-size");
  if (text === null) return latest;
  if (!/^(0|[1-9]\d{0,15})$/.test(text)) throw new HttpError(400, `tree-size: "${text}" is not a tree size`);
  const size = Number(text);
  if (size > latest)
    throw new HttpError(400, `tree-size: ${size} is beyond the latest checkpoint's size ${latest}`);
  return size;
}

/** The query-language filter in the URL, without the UI's own parameters. */
function filterOf(url: URL, only?: ReadonlySet<string>): EventFilter {
  const raw: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (UI_PARAMS.has(k) || (only !== undefined && !only.has(k))) continue;
    (raw[k] ??= []).push(v);
  }
  try {
    return parseFilter(raw);
  } catch (err) {
    fail(err);
  }
}

/**
 * A HashReader that answers every readHashes call made in the same tick with one call to
 * `reader`: a page's proofs share most of their upper hashes and all read the same tiles.
 */
export function coalescingReader(reader: HashReader): HashReader {
  let pending: { indexes: number[]; resolve: (h: Hash[]) => void; reject: (e: unknown) => void }[] = [];
  const flush = (): void => {
    const calls = pending;
    pending = [];
    const union = [...new Set(calls.flatMap((c) => c.indexes))];
    reader.readHashes(union).then(
      (hashes) => {
        const byIndex = new Map(union.map((x, i) => [x, hashes[i] as Hash]));
        for (const c of calls) c.resolve(c.indexes.map((x) => byIndex.get(x) as Hash));
      },
      (err: unknown) => calls.forEach((c) => c.reject(err)),
    );
  };
  return {
    readHashes: (indexes) =>
      new Promise((resolve, reject) => {
        if (pending.length === 0) queueMicrotask(flush);
        pending.push({ indexes: [...indexes], resolve, reject });
      }),
  };
}

async function proven(
  log: LogReader,
  entries: readonly ResolvedEntry[],
  size: number,
): Promise<ProvenEntry[]> {
  const reader = coalescingReader(log.hashReader());
  return Promise.all(
    entries.map(async (e) => ({
      index: e.row.idx,
      entry: Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString("utf8"),
      proof: (await proveInclusion(size, e.row.idx, reader)).map(encodeBase64),
      ...(e.mismatch ? { mismatch: true as const } : {}),
      ...(e.gone ? { gone: e.gone } : {}),
    })),
  );
}

function reply(res: ServerResponse, body: unknown): void {
  jsonReply(res, 200, body, PRIVATE_NO_STORE);
}

export function uiApiRoutes(deps: UiApiDeps): Route[] {
  const { log, index, stats } = deps;
  const keep = { keepMismatched: true };
  const namespaces = knownNamespaces(index);

  /** A page of index rows as an EntryList: the log's bytes, each with its proof, and the next cursor. */
  const replyEntries = async (
    res: ServerResponse,
    found: { rows: IndexRow[]; next?: Cursor },
    size: number,
  ): Promise<void> => {
    const entries = await resolveEntries(log, found.rows, keep);
    reply(res, {
      apiVersion: "kubetrail.dev/v1",
      kind: "EntryList",
      treeSize: size,
      metadata: found.next === undefined ? {} : { continue: encodeCursor(found.next) },
      items: await proven(log, entries, size),
    });
  };

  return [
    {
      // Public like /log/checkpoint: what a browser verifies, and the key it may pin.
      method: "GET",
      pattern: "/ui/api/log",
      scope: "public",
      async handle({ res }) {
        const cp = log.latestCheckpoint();
        const written = deps.checkpointWrittenAt();
        jsonReply(
          res,
          200,
          {
            origin: log.origin,
            checkpoint: cp.note,
            verifierKey: deps.verifierKey,
            ...(written === undefined ? {} : { checkpointWrittenAt: new Date(written).toISOString() }),
          },
          { "Cache-Control": "no-cache" },
        );
      },
    },
    {
      method: "GET",
      pattern: "/v1/stats",
      scope: "read",
      async handle({ url, res, access }) {
        const size = treeSize(url, log);
        const filter = filterOf(url);
        filter.logSize = size;
        await narrowToAccess(filter, access, namespaces);
        const buckets = intParam(url, "buckets", 60, MAX_BUCKETS);
        const top = intParam(url, "top", 10, MAX_TOP);
        let answer;
        try {
          // Once loaded, catch up with the index first; before that, say "loading" at once.
          if (stats.progress().ready) await stats.refresh();
          answer = stats.query(filter, { nowUs: Date.now() * 1000, buckets, top });
        } catch (err) {
          if (err instanceof StatsLoadingError) throw new HttpError(503, err.message, { "Retry-After": "1" });
          throw err;
        }
        reply(res, { apiVersion: "kubetrail.dev/v1", kind: "EventStats", treeSize: size, ...answer });
      },
    },
    {
      method: "GET",
      pattern: "/v1/entries",
      scope: "read",
      async handle({ url, res, access }) {
        const size = treeSize(url, log);
        const filter = filterOf(url);
        if (filter.limit > HTTP_MAX_LIMIT)
          throw new HttpError(400, `limit: at most ${HTTP_MAX_LIMIT} per page; page with cursor`);
        filter.logSize = size;
        await narrowToAccess(filter, access, namespaces);
        const nowUs = Date.now() * 1000;
        // The in-memory columns find a page in one bounded pass whatever the filter; SQLite's
        // plan for a common value (resource=leases…) sorts every match by time.
        const picked = stats.page(filter, nowUs);
        const found =
          picked === undefined
            ? indexRead(index, (i) => i.search(filter, nowUs))
            : {
                rows: indexRead(index, (i) => i.rowsAt(picked.idxs)),
                ...(picked.next ? { next: picked.next } : {}),
              };
        await replyEntries(res, found, size);
      },
    },
    {
      method: "GET",
      pattern: "/v1/entries/:index",
      scope: "read",
      async handle({ url, params, res, access }) {
        const text = params["index"] ?? "";
        if (!/^(0|[1-9]\d{0,15})$/.test(text))
          throw new HttpError(400, `index: "${text}" is not a log index`);
        const idx = Number(text);
        const size = treeSize(url, log);
        if (idx >= size) throw new HttpError(404, `entry ${idx}: not in the tree of size ${size}`);
        const { data } = await readAuthorized(log, idx, access);
        const proof = await proveInclusion(size, idx, log.hashReader());
        reply(res, {
          apiVersion: "kubetrail.dev/v1",
          kind: "Entry",
          treeSize: size,
          index: idx,
          entry: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"),
          proof: proof.map(encodeBase64),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/history",
      scope: "read",
      async handle({ url, res, access }) {
        const size = treeSize(url, log);
        const object = url.searchParams.get("object");
        if (object === null) throw new HttpError(400, "object: missing (KIND/NAME, e.g. deployment/web)");
        let kindName;
        try {
          kindName = parseKindName(object);
        } catch (err) {
          fail(err);
        }
        const namespace = url.searchParams.get("namespace");
        const limit = intParam(url, "limit", 200, MAX_HISTORY);
        // A namespace asked for must be allowed; without one, a namespace-limited reader sees the
        // object in the namespaces it may list (never a cluster-scoped object of that name).
        const allowed = await access.namespaces(
          "list",
          namespace === null || namespace === "" ? [] : [namespace],
          namespaces,
        );
        const items = await indexRead(index, (i) =>
          objectHistory(
            i,
            log,
            {
              ...kindName,
              ...(namespace === null || namespace === "" ? {} : { namespace }),
              limit,
              logSize: size,
              ...(allowed === undefined ? {} : { allowedNamespaces: allowed }),
            },
            Date.now() * 1000,
            keep,
          ).then((objects) => objects.flatMap((h) => h.items)),
        );
        const withProofs = await proven(
          log,
          items.map((i) => i.entry),
          size,
        );
        reply(res, {
          apiVersion: "kubetrail.dev/v1",
          kind: "ObjectHistory",
          treeSize: size,
          object: { ...kindName.resource, name: kindName.name, ...(namespace ? { namespace } : {}) },
          items: items.map((item, i) => ({
            ...withProofs[i],
            ...(item.body === undefined ? {} : { body: item.body }),
            ...(item.changes === undefined ? {} : { changes: item.changes }),
          })),
        });
      },
    },
    {
      method: "GET",
      pattern: "/v1/records",
      scope: "read",
      async handle({ url, res, access }) {
        // Records (alerts, …) are not all bound to one namespace: a cluster-wide reader only.
        await access.fullLog("list");
        const size = treeSize(url, log);
        const kinds = url.searchParams.getAll("kind");
        if (kinds.length === 0) throw new HttpError(400, "kind: missing (Alert, AdmissionDecision)");
        for (const k of kinds)
          if (!/^[A-Z][A-Za-z]{0,63}$/.test(k)) throw new HttpError(400, `kind: "${k}" is not a record kind`);
        const limit = intParam(url, "limit", 100, HTTP_MAX_LIMIT);
        const cursorText = url.searchParams.get("cursor");
        let cursor;
        try {
          cursor = cursorText === null ? undefined : decodeCursor(cursorText);
        } catch (err) {
          fail(err);
        }
        const found = indexRead(index, (i) =>
          i.records(kinds, { limit, logSize: size, ...(cursor ? { cursor } : {}) }),
        );
        await replyEntries(res, found, size);
      },
    },
  ];
}
