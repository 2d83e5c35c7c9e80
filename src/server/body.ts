// Request bodies are read under limits enforced while streaming: the raw size (--max-body) and,
// for gzip, the decompressed size, so neither a huge upload nor a zip bomb can exhaust memory;
// and under a memory budget shared by every request (and by the parsing of their bodies).
import type { IncomingMessage } from "node:http";
import { createGunzip } from "node:zlib";
import type { MemoryBudget } from "../ingest/memory-budget.js";
import { HttpError } from "./route.js";

export interface BodyLimits {
  maxBytes: number;
  /** Limit on the decompressed size of a gzip body. */
  maxDecodedBytes: number;
  /**
   * Shared by all requests: bodies held in memory at once, from their first byte until the
   * caller releases them; beyond it, 429 (retry later). A request alone always proceeds.
   */
  budget?: MemoryBudget;
}

function tooLarge(what: string, limit: number): HttpError {
  return new HttpError(413, `${what} exceeds the limit of ${limit} bytes`, { Connection: "close" });
}

export interface ReceivedBody {
  /** The body, decompressed when it was sent gzip-encoded. */
  body: Buffer;
  /** Bytes received as sent (before gunzip), for the request-bytes metric. */
  rawBytes: number;
  /** Gives the body's bytes back to the budget: call once the body is no longer needed. */
  release(): void;
}

/** Reads the whole body, decoding `Content-Encoding: gzip`; rejects with HttpError 413/415/400. */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<ReceivedBody> {
  // Refused before reading: the body is still discarded, so the client can finish sending and read the reply.
  const refuse = (err: HttpError): Promise<never> => {
    req.resume();
    return Promise.reject(err);
  };
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    return refuse(tooLarge("request body", limits.maxBytes));
  }
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase().trim();
  if (encoding !== "identity" && encoding !== "gzip") {
    return refuse(new HttpError(415, `Content-Encoding ${encoding} is not supported (use gzip or none)`));
  }
  return new Promise<ReceivedBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let raw = 0;
    let decoded = 0;
    let done = false;
    let held = 0;
    const releaseBudget = (): void => {
      limits.budget?.release(held);
      held = 0;
    };
    const fail = (err: HttpError): void => {
      if (done) return;
      done = true;
      releaseBudget();
      gunzip?.destroy();
      req.unpipe();
      req.resume(); // discard the rest; the reply closes the connection
      reject(err);
    };
    const gunzip = encoding === "gzip" ? createGunzip() : undefined;
    req.on("data", (chunk: Buffer) => {
      raw += chunk.length;
      if (raw > limits.maxBytes) fail(tooLarge("request body", limits.maxBytes));
    });
    req.on("error", () => fail(new HttpError(400, "request body was not received completely")));
    req.on("aborted", () => fail(new HttpError(400, "request aborted by the client")));
    const source = gunzip ?? req;
    const limit = gunzip ? limits.maxDecodedBytes : limits.maxBytes;
    if (gunzip) {
      req.pipe(gunzip);
      gunzip.on("error", (err) => fail(new HttpError(400, `gzip body is corrupt: ${err.message}`)));
    }
    source.on("data", (chunk: Buffer) => {
      if (done) return;
      decoded += chunk.length;
      if (decoded > limit) {
        fail(tooLarge(gunzip ? "decompressed request body" : "request body", limit));
        return;
      }
      if (limits.budget) {
        // Twice the chunk: the chunks and the body they are joined into exist together at the end.
        if (!limits.budget.tryReserve(2 * chunk.length, held)) {
          fail(
            new HttpError(429, "too many request bodies in memory at once; retry later", {
              "Retry-After": "1",
              Connection: "close",
            }),
          );
          return;
        }
        held += 2 * chunk.length;
      }
      chunks.push(chunk);
    });
    source.on("end", () => {
      if (done) return;
      done = true;
      const body = Buffer.concat(chunks, decoded);
      chunks.length = 0;
      // The chunks are garbage now; the body is held until the caller is done with it (parsed
      // and answered), not just read.
      limits.budget?.release(held - decoded);
      held = decoded;
      resolve({ body, rawBytes: raw, release: releaseBudget });
    });
  });
}
