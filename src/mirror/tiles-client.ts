// Reading a tlog-tiles log over HTTP(S): its checkpoint, hash tiles and entry bundles, a
// partial one cut from the wider file when the exact one is gone (superseded), as the spec
// allows. Nothing read here is trusted: callers check it against a signed checkpoint.
import { HttpClient, joinUrl } from "../publish/http-client.js";
import { entryBundlePath, TILE_WIDTH, tilePath, type Tile } from "../tlog/index.js";
import { CONTENT_ENCODING, decodeZstdBody } from "../store/bundle-codec.js";
import type { BundleCodec } from "./bundle-codec.js";
import { MirrorError } from "./errors.js";

/** A checkpoint, tile or bundle could not be read from the log's server. */
export class TilesClientError extends MirrorError {}

/**
 * Largest entry bundle read: 256 entries averaging 1 MiB. A kubetrail bundle of audit events is
 * far smaller, but one entry may be up to 16 MiB, so the answer bound must not be a tile's.
 */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;
/** Largest other answer (a checkpoint, a hash tile of 256 hashes). */
const MAX_OTHER_BYTES = 1024 * 1024;

export class TilesClient {
  constructor(
    private readonly http: HttpClient,
    /** The log's prefix: where checkpoint and tile/ are. */
    readonly url: string,
    private readonly opts: { token?: string; timeoutMs: number },
  ) {}

  /** The body at `path`, or null for a 404; TilesClientError("unavailable") otherwise. */
  async get(path: string, entryBundle = false): Promise<Buffer | null> {
    return (await this.getEncoded(path, entryBundle))?.data ?? null;
  }

  /** get, also giving the zstd frame the body came in, when the server sent it compressed. */
  private async getEncoded(
    path: string,
    entryBundle: boolean,
  ): Promise<{ data: Buffer; frame?: Buffer } | null> {
    const url = joinUrl(this.url, path);
    const answer = await this.http
      .request("GET", url, {
        timeoutMs: this.opts.timeoutMs,
        // Entry bundles are large and hold events: read with the token.
        maxResponseBytes: entryBundle ? MAX_BUNDLE_BYTES : MAX_OTHER_BYTES,
        // Bundles may be kept compressed (kubetrail's own at rest): taking them so saves the
        // server decompressing and the transfer.
        headers: entryBundle
          ? {
              "Accept-Encoding": CONTENT_ENCODING,
              ...(this.opts.token ? { Authorization: `Bearer ${this.opts.token}` } : {}),
            }
          : {},
      })
      .catch((err: unknown) => {
        throw new TilesClientError("unavailable", (err as Error).message, { cause: err });
      });
    if (answer.status === 404) return null;
    // tlog-tiles: an entry bundle the log's retention removed (its leaf hashes stay in the tiles).
    if (answer.status === 410 && entryBundle)
      throw new TilesClientError("pruned", `${path}: gone (HTTP 410)${goneReason(answer.body, path)}`);
    if (answer.status !== 200)
      throw new TilesClientError("unavailable", `GET ${url.href}: HTTP ${answer.status}`);
    const coding = answer.headers["content-encoding"];
    if (coding === undefined || coding === "identity") return { data: answer.body };
    if (!entryBundle || coding !== CONTENT_ENCODING)
      throw new TilesClientError(
        "unavailable",
        `GET ${url.href}: content encoding "${coding}" was not asked for`,
      );
    const data = await decodeZstdBody(answer.body, MAX_BUNDLE_BYTES).catch((err: unknown) => {
      throw new TilesClientError("unavailable", `GET ${url.href}: ${(err as Error).message}`, { cause: err });
    });
    return { data, frame: answer.body };
  }

  async checkpoint(): Promise<string> {
    const body = await this.get("checkpoint");
    if (body === null) throw new TilesClientError("missing", `${this.url}: no checkpoint`);
    return body.toString("utf8");
  }

  /** Hash tile `tile`: exactly width × 32 bytes. */
  async tile(tile: Tile): Promise<Uint8Array> {
    const exact = await this.get(tilePath(tile));
    const data =
      exact ?? (tile.width < TILE_WIDTH ? await this.get(tilePath({ ...tile, width: TILE_WIDTH })) : null);
    if (data === null || data.length < tile.width * 32)
      throw new TilesClientError("missing", `${this.url}${tilePath(tile)} is missing`);
    return data.subarray(0, tile.width * 32);
  }

  /** The first `width` entries of bundle `index`, decoded. */
  async entries(index: number, width: number, codec: BundleCodec): Promise<Uint8Array[]> {
    return (await this.bundle(index, width, codec)).entries;
  }

  /**
   * The first `width` entries of bundle `index`, decoded, and for a full bundle the server sent
   * compressed, the zstd frame as received (a mirror stores it so; the entries are what is
   * checked).
   */
  async bundle(index: number, width: number, codec: BundleCodec): Promise<FetchedBundle> {
    const exact = await this.getEncoded(entryBundlePath(index, width), true);
    let data = exact?.data ?? null;
    if (data === null && width < TILE_WIDTH) {
      const full = await this.get(entryBundlePath(index, TILE_WIDTH), true);
      const prefix = full === null ? null : codec.prefix(full, width);
      data = prefix === null ? null : Buffer.from(prefix);
    }
    if (data === null)
      throw new TilesClientError(
        "missing",
        `entry bundle ${index} is missing (pruned, or a read token is needed)`,
      );
    const entries = codec.decode(data);
    if (entries.length !== width)
      throw new TilesClientError(
        "missing",
        `entry bundle ${index} holds ${entries.length} entries, not ${width}`,
      );
    return width === TILE_WIDTH && exact?.frame ? { entries, frame: exact.frame } : { entries };
  }
}

/** What a 410 answer says, briefly: kubetrail's JSON error (less the path it repeats), or the text as sent. */
function goneReason(body: Buffer, path: string): string {
  const text = body.toString("utf8", 0, 500).trim();
  if (text === "") return "";
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === "string")
      return `: ${error.startsWith(`${path}: `) ? error.slice(path.length + 2) : error}`;
  } catch {
    // not JSON: the text as it is
  }
  return `: ${text}`;
}

/**
 * A bundle read from a log: its entries, and the zstd frame of a full bundle sent compressed;
 * or, for a bundle the log pruned, no entries but their leaf hashes (from its level-0 tile) and
 * the log's reason.
 */
export interface FetchedBundle {
  entries: Uint8Array[];
  frame?: Uint8Array;
  /**
   * The entries' leaf hashes as the log's level-0 tile has them, when some cannot be hashed from
   * the bytes: an erased entry's tombstone (an empty line) keeps its leaf hash only there.
   */
  leaves?: Uint8Array[];
  pruned?: { leaves: Uint8Array[]; reason: string };
}

/** Bundles fetched at once while catching up. */
const IN_FLIGHT = 8;

/**
 * Reads entries [start, end) bundle by bundle, several bundles at once, and hands them to
 * `take` in order (each call one bundle's worth, or less for the first and last; the frame
 * only with a whole full bundle).
 */
export async function readEntriesInOrder(
  read: (index: number, width: number) => Promise<Uint8Array[] | FetchedBundle>,
  start: number,
  end: number,
  take: (bundle: FetchedBundle) => Promise<void>,
): Promise<void> {
  const first = Math.floor(start / TILE_WIDTH);
  const last = Math.ceil(end / TILE_WIDTH);
  const inFlight: Promise<FetchedBundle>[] = [];
  let next = first;
  const submit = (): void => {
    const b = next++;
    const p = read(b, Math.min(TILE_WIDTH, end - b * TILE_WIDTH)).then((got): FetchedBundle => {
      const bundle: FetchedBundle = Array.isArray(got) ? { entries: got } : got;
      const skip = b === first ? start - b * TILE_WIDTH : 0;
      if (skip === 0) return bundle;
      // The frame is of the whole bundle: not kept for a part of it.
      const { entries, leaves, pruned } = bundle;
      return {
        entries: entries.slice(skip),
        ...(leaves ? { leaves: leaves.slice(skip) } : {}),
        ...(pruned ? { pruned: { ...pruned, leaves: pruned.leaves.slice(skip) } } : {}),
      };
    });
    // Awaited in order below; one failing after an earlier failure stopped the loop is not unhandled.
    p.catch(() => undefined);
    inFlight.push(p);
  };
  while (next < last && inFlight.length < IN_FLIGHT) submit();
  while (inFlight.length > 0) {
    const bundle = await inFlight.shift()!;
    if (next < last) submit();
    await take(bundle);
  }
}
