// A tlog-tiles HTTP(S) endpoint as a LogSource, for `kubetrail verify URL` (and mirrors). Like
// every LogSource it is untrusted: the verifier checks everything it reads against the signed
// checkpoint. Nor is it trusted for size or time: an answer longer than the format allows is
// cut off and refused (a hash tile is exactly its width × 32 bytes, a checkpoint and a bundle
// have documented maxima), and every request has a deadline.
import { readFile } from "node:fs/promises";
import https from "node:https";
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { entryBundlePath, parseCheckpoint, tilePath, TILE_WIDTH, type Tile } from "../tlog/index.js";
import { CONTENT_ENCODING, decodeZstdBody } from "../store/bundle-codec.js";
import { bundlePrefix } from "../store/bundle-format.js";
import type { LogSource } from "../store/driver.js";
import { LogError, MAX_BUNDLE_BYTES, MAX_CHECKPOINT_BYTES, type EntryBundle } from "../store/types.js";

export interface HttpSourceOptions {
  /** PEM CA bundle to trust for a self-signed kubetrail serving certificate. */
  ca?: string;
  /** Skip TLS verification (integrity still comes from the signed checkpoint). */
  insecure?: boolean;
  /** Aborts every request (the verifier's overall deadline). */
  signal?: AbortSignal;
  /** A whole answer must arrive within this long (default 60 s): a server trickling bytes is cut off. */
  requestTimeoutMs?: number;
  /** Bearer token sent with every request: entry bundles need a full-log read credential. */
  token?: string;
  /** PEM client certificate and key, for a server that takes them as a read credential. */
  clientCert?: string;
  clientKey?: string;
  /** The same three as PEM text rather than files (credentials a kubeconfig holds). */
  pem?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

/** What a GET found: the body, nothing (404), or gone on purpose (410, with the reason given). */
type Fetched = { body: Buffer } | { gone: string } | null;

const HASH_BYTES = 32;
/** A partial tile or bundle that vanished is looked for again, at the server's current checkpoint. */
const RETRY_DELAYS_MS = [0, 20, 100];

/**
 * A tlog-tiles endpoint such as https://host:8443/log/. A partial tile or bundle that is gone
 * (superseded by a wider one since the checkpoint was read) is read in the version the server's
 * current checkpoint names and cut to the width, as the spec allows.
 */
export async function httpLogSource(baseUrl: string, opts: HttpSourceOptions = {}): Promise<LogSource> {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const tls: https.RequestOptions = {
    ca: opts.pem?.ca ?? (opts.ca ? await readFile(opts.ca, "utf8") : undefined),
    cert: opts.pem?.cert ?? (opts.clientCert ? await readFile(opts.clientCert, "utf8") : undefined),
    key: opts.pem?.key ?? (opts.clientKey ? await readFile(opts.clientKey, "utf8") : undefined),
    rejectUnauthorized: opts.insecure !== true,
    // Bundles a kubetrail server stores compressed come as stored: decoded here, bounded.
    headers: {
      "Accept-Encoding": CONTENT_ENCODING,
      ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
    },
  };
  const get = (path: string, max: number) =>
    httpGet(new URL(path, base), {
      tls,
      max,
      signal: opts.signal,
      timeoutMs: opts.requestTimeoutMs ?? 60_000,
    });

  const readCheckpoint = async (): Promise<Buffer | null> => {
    const got = await get("checkpoint", MAX_CHECKPOINT_BYTES);
    return got !== null && "body" in got ? got.body : null;
  };

  /** The width the server's current checkpoint gives the tile at `level`, `index` (its bundle at level -1). */
  const currentWidth = async (level: number, index: number): Promise<number | null> => {
    const note = await readCheckpoint();
    if (note === null) return null;
    const text = note.toString("utf8");
    let size: number;
    try {
      size = parseCheckpoint(text.slice(0, text.indexOf("\n\n") + 1)).size;
    } catch {
      return null;
    }
    const below = Math.floor(size / TILE_WIDTH ** Math.max(0, level));
    return Math.max(0, Math.min(TILE_WIDTH, below - index * TILE_WIDTH));
  };

  /**
   * The version of width `width` of a tile or bundle (`read` gets one version), else the full
   * one, else (a partial that vanished) the version the current checkpoint names, looked for a
   * few times.
   */
  const find = async (
    level: number,
    index: number,
    width: number,
    read: (w: number) => Promise<Fetched>,
  ): Promise<{ fetched: Fetched; width: number } | null> => {
    for (const delay of RETRY_DELAYS_MS) {
      if (delay > 0) await sleep(delay, undefined, { signal: opts.signal });
      const tried = new Set<number>();
      const widths = [width, TILE_WIDTH];
      if (delay > 0) {
        const now = await currentWidth(level, index);
        if (now !== null && now > width) widths.push(now);
      }
      for (const w of widths) {
        if (tried.has(w)) continue;
        tried.add(w);
        const fetched = await read(w);
        if (fetched !== null) return { fetched, width: w };
      }
    }
    return null;
  };

  return {
    where: base,
    readCheckpoint,
    readTile: async (tile: Tile) => {
      const found = await find(tile.level, tile.index, tile.width, (w) =>
        get(tilePath({ ...tile, width: w }), w * HASH_BYTES),
      );
      if (found === null || found.fetched === null || !("body" in found.fetched)) return null;
      const { body } = found.fetched;
      const size = found.width * HASH_BYTES;
      if (body.length !== size) {
        throw new LogError(
          "corrupt",
          `${tilePath({ ...tile, width: found.width })}: ${body.length} bytes, a tile of ${found.width} hashes is ${size}`,
        );
      }
      return body.subarray(0, tile.width * HASH_BYTES);
    },
    readEntryBundle: async (index: number, width: number): Promise<EntryBundle | null> => {
      const found = await find(-1, index, width, (w) => get(entryBundlePath(index, w), MAX_BUNDLE_BYTES));
      if (found === null) return null;
      const { fetched } = found;
      if (fetched === null) return null;
      if (!("body" in fetched)) return { gone: { state: "pruned", reason: fetched.gone } };
      // The exact version is returned whole: a verifier must see a deleted or inserted line.
      if (found.width === width) return { data: fetched.body };
      const prefix = bundlePrefix(fetched.body, width);
      return prefix === null ? null : { data: prefix };
    },
  };
}

/** The reason a 410 answer gives (kubetrail's JSON error, or plain text), shortened. */
function goneReason(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error.slice(0, 200);
  } catch {
    // Another server's plain text.
  }
  return text.slice(0, 200) || "pruned";
}

interface GetOptions {
  /** CA, client certificate and key, certificate checking, the credential header. */
  tls: https.RequestOptions;
  /** The most bytes the answer may have: more is refused without reading it all. */
  max: number;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

function httpGet(url: URL, o: GetOptions): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const fail = (why: string, cause?: unknown) =>
      reject(new LogError("io", `GET ${url.href}: ${why}`, cause === undefined ? undefined : { cause }));
    const req = mod.get(url, { ...o.tls, signal: o.signal }, (res) => {
      // Error answers are read only as far as a short reason goes.
      const limit = res.statusCode === 200 ? o.max : 4096;
      const declared = Number(res.headers["content-length"]);
      if (res.statusCode === 200 && declared > limit) {
        req.destroy();
        return fail(`answer of ${declared} bytes, more than the ${limit} it can be`);
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        if (bytes > limit) {
          if (res.statusCode === 200) {
            req.destroy();
            fail(`answer of more than the ${limit} bytes it can be`);
          }
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => {
        clearTimeout(deadline);
        const received = Buffer.concat(chunks);
        const coding = res.headers["content-encoding"];
        if (res.statusCode === 200 && coding !== undefined && coding !== "identity") {
          if (coding !== CONTENT_ENCODING) return fail(`content encoding "${coding}" was not asked for`);
          decodeZstdBody(received, o.max).then(
            (body) => resolve({ body }),
            (err: unknown) => fail((err as Error).message, err),
          );
          return;
        }
        const body = received;
        if (res.statusCode === 404) resolve(null);
        else if (res.statusCode === 410) resolve({ gone: goneReason(body) });
        else if (res.statusCode === 401 || res.statusCode === 403)
          fail(`HTTP ${res.statusCode}: entry bundles need a read credential (--token-file)`);
        else if (res.statusCode !== 200) fail(`HTTP ${res.statusCode}`);
        else resolve({ body });
      });
      res.on("error", (err) => fail(err.message, err));
    });
    const deadline = setTimeout(() => {
      req.destroy();
      fail(`no complete answer within ${o.timeoutMs / 1000} s`);
    }, o.timeoutMs);
    deadline.unref();
    req.on("error", (err) => {
      clearTimeout(deadline);
      fail(o.signal?.aborted ? "stopped (deadline)" : err.message, err);
    });
  });
}
