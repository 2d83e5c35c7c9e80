// The HTTP(S) client that talks to witnesses and mirrors: keep-alive connections (the specs ask
// for them), a deadline on every request, a bounded answer, and TLS trust from a CA file.
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { CodedError } from "../errors.js";

export interface HttpClientOptions {
  /** PEM CA bundle to trust (a self-signed witness or mirror). */
  ca?: string;
  /** Skip TLS verification: witnesses' answers are checked by signature anyway. */
  insecure?: boolean;
  /** Largest answer body read (a cosignature answer is a few hundred bytes). */
  maxResponseBytes?: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** "timeout": no whole answer in time; "network": the connection failed; "too-large": the answer passed its bound. */
export class HttpClientError extends CodedError<"timeout" | "network" | "too-large"> {}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly opts: HttpClientOptions = {}) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(opts.ca ? { ca: opts.ca } : {}),
      rejectUnauthorized: opts.insecure !== true,
    });
  }

  /**
   * Sends one request and reads the whole answer within `timeoutMs`. The body may be a stream
   * (an add-entries upload). Rejects with HttpClientError for a network failure or timeout.
   */
  request(
    method: "GET" | "POST",
    url: URL,
    o: {
      body?: Uint8Array | string | Readable;
      headers?: Record<string, string>;
      timeoutMs: number;
      /** Largest answer body read for this request; default the client's maxResponseBytes. */
      maxResponseBytes?: number;
    },
  ): Promise<HttpAnswer> {
    const tls = url.protocol === "https:";
    const mod = tls ? https : http;
    const max = o.maxResponseBytes ?? this.opts.maxResponseBytes ?? 1024 * 1024;
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const fail = (code: HttpClientError["code"], why: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(new HttpClientError(code, `${method} ${url.href}: ${why}`, { cause }));
      };
      const timer = setTimeout(() => fail("timeout", `no answer within ${o.timeoutMs} ms`), o.timeoutMs);
      const req = mod.request(
        url,
        { method, headers: o.headers, agent: tls ? this.httpsAgent : this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > max) fail("too-large", `answer larger than ${max} bytes`);
            else chunks.push(c);
          });
          res.on("end", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on("error", (err) => fail("network", err.message, err));
        },
      );
      req.on("error", (err) => fail("network", err.message, err));
      const body = o.body;
      if (body instanceof Readable) {
        body.on("error", (err) => fail("network", `request body: ${err.message}`, err));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  close(): void {
    this.agent.destroy();
    this.httpsAgent.destroy();
  }
}

/** `prefix` + `path`, keeping the prefix's own path (a witness may live under /witness/). */
export function joinUrl(prefix: string, path: string): URL {
  return new URL(path, prefix.endsWith("/") ? prefix : `${prefix}/`);
}
