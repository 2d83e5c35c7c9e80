// Where a verifier reads a log from: a data directory or a tlog-tiles HTTP(S) endpoint.
// Both are untrusted: the verifier checks everything it reads against the signed checkpoint.
import { readFile } from "node:fs/promises";
import https from "node:https";
import http from "node:http";
import { entryBundlePath, tilePath, TILE_WIDTH, type Tile } from "../tlog/index.js";
import { bundlePrefix } from "../store/bundle-format.js";
import { FsLogReader } from "../store/fs-reader.js";

export interface LogSource {
  /** Where the log is, for messages. */
  readonly where: string;
  readCheckpoint(): Promise<string | null>;
  /** Hash tile data (width × 32 bytes), or null when absent. */
  readHashTile(tile: Tile): Promise<Uint8Array | null>;
  /** The first `width` entries of bundle `index` as JSON lines, or null when absent. */
  readEntryBundle(index: number, width: number): Promise<Uint8Array | null>;
}

export function fsLogSource(dataDir: string): LogSource {
  const reader = new FsLogReader(dataDir);
  return {
    where: dataDir,
    readCheckpoint: () => reader.readCheckpointNote(),
    readHashTile: (tile) => reader.readHashTile(tile),
    readEntryBundle: (index, width) => reader.readEntryBundle(index, width),
  };
}

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
    headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
  };
  const get = (path: string) => httpGet(new URL(path, base), tls);
  const withFallback = async (partial: string, full: string, cut: (d: Uint8Array) => Uint8Array | null) => {
    const exact = await get(partial);
    if (exact !== null) return exact;
    const wider = partial === full ? null : await get(full);
    return wider === null ? null : cut(wider);
  };
  return {
    where: base,
    readCheckpoint: async () => (await get("checkpoint"))?.toString() ?? null,
    readHashTile: (tile) =>
      withFallback(tilePath(tile), tilePath({ ...tile, width: TILE_WIDTH }), (d) =>
        d.length >= tile.width * 32 ? d.subarray(0, tile.width * 32) : null,
      ),
    readEntryBundle: (index, width) =>
      withFallback(entryBundlePath(index, width), entryBundlePath(index, TILE_WIDTH), (d) =>
        bundlePrefix(d, width),
      ),
  };
}

function httpGet(url: URL, opts: https.RequestOptions): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.get(url, { ...opts, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode === 404) resolve(null);
        else if (res.statusCode === 401 || res.statusCode === 403)
          reject(
            new Error(
              `GET ${url.href}: HTTP ${res.statusCode}: entry bundles need a read credential (--token-file)`,
            ),
          );
        else if (res.statusCode !== 200) reject(new Error(`GET ${url.href}: HTTP ${res.statusCode}`));
        else resolve(Buffer.concat(chunks));
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url.href}: timed out`)));
    req.on("error", (err) => reject(new Error(`GET ${url.href}: ${err.message}`)));
  });
}
