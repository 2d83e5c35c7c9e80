// A small HTTPS JSON client: kubetrail's CLI talking to a kubetrail server, the kubectl plugin
// and the server talking to the kube-apiserver. One keep-alive connection per client, answers
// bounded in size and time, and every failure a one-line ClientError saying what and where.
import http from "node:http";
import https from "node:https";
import { ClientError } from "../client/errors.js";

export interface TlsOptions {
  /** PEM bundle of CAs to trust instead of the system's. */
  ca?: string | Buffer;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Skip checking the server's certificate (only ever for a test apiserver). */
  insecure?: boolean;
}

export interface JsonClientOptions extends TlsOptions {
  /** Base URL: `https://host:port` with an optional path prefix. */
  server: string;
  /** Sent as `Authorization: Bearer …`; never logged or put in a message. */
  token?: string;
  timeoutMs?: number;
  /** Largest answer accepted. */
  maxBytes?: number;
}

export interface JsonReply {
  status: number;
  body: unknown;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** Why TLS failed, in words a user can act on. */
const TLS_CODES: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in the chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "issued by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "issued by a CA that is not trusted",
  CERT_HAS_EXPIRED: "certificate expired",
  CERT_NOT_YET_VALID: "certificate not yet valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "certificate is for another host name",
};

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
};

export class JsonClient {
  private readonly base: URL;
  private readonly agent: http.Agent;

  constructor(private readonly opts: JsonClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.server);
    } catch {
      throw new ClientError(
        "config",
        `server: "${opts.server}" is not a URL (e.g. https://kubetrail.example:8443)`,
      );
    }
    if (base.protocol !== "https:" && base.protocol !== "http:")
      throw new ClientError("config", `server: "${opts.server}" is not an https:// URL`);
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    this.base = base;
    this.agent =
      base.protocol === "https:"
        ? new https.Agent({
            keepAlive: true,
            maxSockets: 4,
            ca: opts.ca,
            cert: opts.cert,
            key: opts.key,
            rejectUnauthorized: opts.insecure !== true,
          })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  get server(): string {
    return this.base.href.replace(/\/$/, "");
  }

  /** GET path (relative to the base) with query parameters; throws ClientError for any non-2xx answer. */
  async get(path: string, query?: URLSearchParams): Promise<unknown> {
    return (await this.request("GET", path, query)).body;
  }

  /** POST a JSON body; throws ClientError for any non-2xx answer. */
  async post(path: string, body: unknown): Promise<unknown> {
    return (await this.request("POST", path, undefined, body)).body;
  }

  /** Raw reply of a GET whatever its status (404 included); network and junk errors still throw. */
  async getReply(path: string, query?: URLSearchParams): Promise<JsonReply> {
    return this.request("GET", path, query, undefined, true);
  }

  close(): void {
    this.agent.destroy();
  }

  private url(path: string, query?: URLSearchParams): URL {
    const url = new URL(path.replace(/^\//, ""), this.base);
    if (query !== undefined) url.search = query.toString();
    return url;
  }

  private request(
    method: "GET" | "POST",
    path: string,
    query: URLSearchParams | undefined,
    body?: unknown,
    anyStatus = false,
  ): Promise<JsonReply> {
    const url = this.url(path, query);
    const shown = `${url.origin}${url.pathname}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.opts.token !== undefined) headers["Authorization"] = `Bearer ${this.opts.token}`;
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(payload.length);
    }
    const maxBytes = this.opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<JsonReply>((resolve, reject) => {
      const req = mod.request(
        url,
        { method, headers, agent: this.agent, timeout: this.opts.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              req.destroy();
              reject(new ClientError("junk", `${shown}: the answer is larger than ${maxBytes} bytes`));
            } else chunks.push(c);
          });
          res.on("error", (err) => reject(networkError(shown, err)));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            if (status >= 200 && status < 300) {
              if (parsed === undefined)
                return reject(
                  new ClientError("junk", `${shown}: the answer is not JSON (${describeText(text)})`),
                );
              return resolve({ status, body: parsed });
            }
            if (anyStatus && parsed !== undefined) return resolve({ status, body: parsed });
            reject(statusError(shown, status, parsed, text));
          });
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
      req.on("error", (err) => reject(networkError(this.server, err)));
      req.end(payload);
    });
  }
}

function describeText(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  if (oneLine === "") return "empty";
  return `starts with ${JSON.stringify(oneLine.slice(0, 60))}`;
}

function statusError(shown: string, status: number, parsed: unknown, text: string): ClientError {
  const reason =
    parsed !== null && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string"
      ? (parsed as { error: string }).error
      : parsed !== null &&
          typeof parsed === "object" &&
          typeof (parsed as { message?: unknown }).message === "string"
        ? (parsed as { message: string }).message
        : describeText(text);
  const code = status === 401 || status === 403 ? "refused" : "server";
  const what = status === 401 ? "not authenticated" : status === 403 ? "forbidden" : `HTTP ${status}`;
  return new ClientError(code, `${shown}: ${what}: ${reason}`);
}

function networkError(server: string, err: Error): ClientError {
  if (err instanceof ClientError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const tls = TLS_CODES[code];
  if (tls !== undefined)
    return new ClientError(
      "tls",
      `${server}: the server's certificate is not trusted (${tls}); give the CA that issued it (--ca)`,
      { cause: err },
    );
  if (
    /ssl|tls|certificate|alert/i.test(err.message) ||
    code.startsWith("ERR_SSL") ||
    code.startsWith("ERR_TLS")
  )
    return new ClientError("tls", `${server}: TLS handshake failed (${err.message})`, { cause: err });
  const net = NETWORK_CODES[code];
  return new ClientError("unreachable", `cannot reach ${server}: ${net ?? err.message}`, { cause: err });
}
