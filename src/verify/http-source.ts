// A tlog-tiles HTTP(S) endpoint as a LogSource, for `kubetrail verify URL` (and mirrors). Like
// every LogSource it is untrusted: the verifier checks everything it reads against the
// signed checkpoint.
import { readFile } from "node:fs/promises";
import https from "node:https";
import http from "node:http";
import { entryBundlePath, tilePath, TILE_WIDTH, type Tile } from "../tlog/index.js";
import { CONTENT_ENCODING, decodeZstdBody } from "../store/bundle-codec.js";
import { bundlePrefix } from "../store/bundle-format.js";
import type { LogSource } from "../store/driver.js";
import type { EntryBundle } from "../store/types.js";

export interface HttpSourceOptions {
  /** PEM CA bundle to trust for a self-signed kubetrail serving certificate. */
  ca?: string;
  /** Skip TLS verification (integrity still comes from the signed checkpoint). */
  insecure?: boolean;
  /** Bearer token sent with every request: entry bundles need a full-log read credential. */
  token?: string;
  /** PEM client certificate and key, for a server that takes them as a read credential. */
  clientCert?: string;
  clientKey?: string;
}

/** What a GET found: the body, nothing (404), or gone on purpose (410, with the reason given). */
type Fetched = { body: Buffer } | { gone: string } | null;

/**
 * A tlog-tiles endpoint such as https://host:8443/log/. A partial tile or bundle that is
 * gone (superseded) is read from the wider version and truncated, as the spec allows.
 */
export async function httpLogSource(baseUrl: string, opts: HttpSourceOptions = {}): Promise<LogSource> {
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const tls: https.RequestOptions = {
    ca: opts.ca ? await readFile(opts.ca, "utf8") : undefined,
    cert: opts.clientCert ? await readFile(opts.clientCert, "utf8") : undefined,
    key: opts.clientKey ? await readFile(opts.clientKey, "utf8") : undefined,
    rejectUnauthorized: opts.insecure !== true,
    // Bundles a kubetrail server stores compressed come as stored: decoded here, bounded.
    headers: {
      "Accept-Encoding": CONTENT_ENCODING,
      ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
    },
  };
  const get = (path: string) => httpGet(new URL(path, base), tls);
  const withFallback = async (
    partial: string,
    full: string,
    cut: (d: Uint8Array) => Uint8Array | null,
  ): Promise<Fetched> => {
    const exact = await get(partial);
    if (exact !== null) return exact;
    const wider = partial === full ? null : await get(full);
    if (wider === null || !("body" in wider)) return wider;
    const body = cut(wider.body);
    return body === null ? null : { body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  };
  return {
    where: base,
    readCheckpoint: async () => {
      const got = await get("checkpoint");
      return got !== null && "body" in got ? got.body : null;
    },
    readTile: async (tile: Tile) => {
      const got = await withFallback(tilePath(tile), tilePath({ ...tile, width: TILE_WIDTH }), (d) =>
        d.length >= tile.width * 32 ? d.subarray(0, tile.width * 32) : null,
      );
      return got !== null && "body" in got ? got.body : null;
    },
    readEntryBundle: async (index: number, width: number): Promise<EntryBundle | null> => {
      const got = await withFallback(entryBundlePath(index, width), entryBundlePath(index, TILE_WIDTH), (d) =>
        bundlePrefix(d, width),
      );
      if (got === null) return null;
      return "body" in got ? { data: got.body } : { gone: { state: "pruned", reason: got.gone } };
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

function httpGet(url: URL, opts: https.RequestOptions): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.get(url, { ...opts, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const received = Buffer.concat(chunks);
        const coding = res.headers["content-encoding"];
        if (res.statusCode === 200 && coding !== undefined && coding !== "identity") {
          if (coding !== CONTENT_ENCODING) {
            reject(new Error(`GET ${url.href}: content encoding "${coding}" was not asked for`));
            return;
          }
          decodeZstdBody(received).then(
            (body) => resolve({ body }),
            (err: unknown) => reject(new Error(`GET ${url.href}: ${(err as Error).message}`)),
          );
          return;
        }
        const body = received;
        if (res.statusCode === 404) resolve(null);
        else if (res.statusCode === 410) resolve({ gone: goneReason(body) });
        else if (res.statusCode === 401 || res.statusCode === 403)
          reject(
            new Error(
              `GET ${url.href}: HTTP ${res.statusCode}: entry bundles need a read credential (--token-file)`,
            ),
          );
        else if (res.statusCode !== 200) reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}`));
        else resolve({ body });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url.href}: timed out`)));
    req.on("error", (err) => reject(new Error(`GET ${url.href}: ${err.message}`)));
  });
}
