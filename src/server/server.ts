// The HTTP(S) server core: mounts Route[] from every module, authenticates by scope before a
// handler runs, turns HttpErrors into JSON replies, logs each request (never tokens or bodies),
// cuts off slow senders and slow handshakes, bounds connections without a credential, and
// shuts down gracefully (stop accepting, let in-flight handlers finish).
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "pino";
import { authChains, type AuthConfig } from "./auth/chain.js";
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./connection-guard.js";
import type { ServerMetrics } from "./metrics.js";
import { HttpError, type Route } from "./route.js";
import { Router } from "./router.js";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle of the CA whose client certificates may ingest (--client-ca). */
  clientCa?: string;
  /** PEM bundle of the CA whose client certificates may read the whole log (--read-client-ca). */
  readClientCa?: string;
  /** PEM bundle of the cluster's client CA, whose certificates are Kubernetes users (--kube-client-ca). */
  kubeClientCa?: string;
}

/**
 * TLS 1.3 (whose suites are all AEAD), and for TLS 1.2 only ECDHE key exchange with AEAD
 * ciphers: no CBC, no SHA-1 MAC, no CCM/CCM8, no ARIA or Camellia, no static RSA or DHE.
 * Every TLS 1.2 client of the last decade, Go's among them, offers one of these.
 */
export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export interface ServerOptions {
  routes: readonly Route[];
  auth: AuthConfig;
  logger: Logger;
  metrics: ServerMetrics;
  /** Absent: plain HTTP (only with --insecure-http). */
  tls?: TlsMaterial;
  /** Whole request (headers and body) must arrive within this time; slow senders are cut off. */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** A TLS handshake must complete within this time (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Connections held before a credential is shown (see connection-guard.ts). */
  connectionLimits?: ConnectionLimits;
}

export interface RunningServer {
  /** The bound address as host:port. */
  address: string;
  port: number;
  /** Mounts more routes (modules that need the open log register after startup). */
  addRoutes(routes: readonly Route[]): void;
  /** Stops accepting, waits for in-flight requests (up to `graceMs`), then closes remaining sockets. */
  close(graceMs?: number): Promise<void>;
  server: http.Server;
}

/**
 * A request target that is a plain absolute path — segments of letters, digits, "-" and "_",
 * no query, dot segments, escapes or empty segments — is its own pathname, as URL would give it:
 * most requests (every add-checkpoint a witness answers) are routed without parsing a URL, and
 * the handlers that read theirs get it parsed when they do.
 */
const PLAIN_PATH = /^\/(?:[\w-]+\/)*[\w-]*$/;

export function jsonReply(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Client certificates are verified against both CA bundles, but a client without one (or with
 * a bad one) still reaches auth, which grants by issuing CA or token and says what was wrong.
 */
function clientCertificateOptions(tls: TlsMaterial): https.ServerOptions {
  const cas = [tls.clientCa, tls.readClientCa, tls.kubeClientCa].filter((c): c is string => c !== undefined);
  if (cas.length === 0) return {};
  return { ca: cas.join("\n"), requestCert: true, rejectUnauthorized: false };
}

export function startServer(
  opts: ServerOptions,
  listen: { host: string; port: number },
): Promise<RunningServer> {
  let allRoutes = [...opts.routes];
  let router = new Router(allRoutes);
  let inflight = 0;
  let idle: (() => void) | undefined;
  const authenticate = authChains(opts.auth);

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    inflight++;
    const started = process.hrtime.bigint();
    let routeLabel = "unmatched";
    res.on("close", () => {
      inflight--;
      if (inflight === 0) idle?.();
      opts.metrics.httpRequests.inc({ route: routeLabel, code: String(res.statusCode) });
      opts.logger.info(
        {
          method: req.method,
          path: routeLabel,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          remote: req.socket.remoteAddress,
        },
        "request",
      );
    });
    void dispatch(req, res, (label) => (routeLabel = label));
  };

  async function dispatch(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    setLabel: (l: string) => void,
  ): Promise<void> {
    try {
      const target = req.url ?? "/";
      let url: URL | undefined;
      const parsed = (): URL => (url ??= new URL(target, "http://kubetrail.invalid"));
      const pathname = PLAIN_PATH.test(target) ? target : parsed().pathname;
      const found = router.match(req.method ?? "GET", pathname);
      if (!("route" in found)) {
        throw found.pathExists
          ? new HttpError(405, `method ${req.method} not allowed on ${pathname}`)
          : new HttpError(404, "not found");
      }
      setLabel(found.route.pattern);
      const auth = await authenticate(req, found.route.scope);
      if (auth.ok && auth.identity.method !== "anonymous") guard.trust(req.socket);
      if (!auth.ok) {
        opts.metrics.authFailures.inc({ scope: found.route.scope, code: String(auth.status) });
        const headers: Record<string, string> =
          auth.status === 401 ? { "WWW-Authenticate": 'Bearer realm="kubetrail"' } : {};
        throw new HttpError(auth.status, auth.reason, headers);
      }
      await found.route.handle({
        req,
        res,
        get url() {
          return parsed();
        },
        params: found.params,
        identity: auth.identity,
        access: auth.access,
      });
    } catch (err) {
      replyError(res, err);
    }
  }

  function replyError(res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      jsonReply(res, err.status, { error: err.message }, err.headers);
      return;
    }
    opts.logger.error(
      {
        err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      },
      "handler failed",
    );
    jsonReply(res, 500, { error: "internal error" });
  }

  const requestTimeout = opts.requestTimeoutMs ?? 60_000;
  // How often Node checks request/headers timeouts; its 30 s default would let a slow sender linger.
  const timing = {
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))),
  };
  const guard = new ConnectionGuard(opts.connectionLimits ?? DEFAULT_CONNECTION_LIMITS, {
    refused: opts.metrics.connectionsRefused,
    unauthenticated: opts.metrics.connectionsUnauthenticated,
  });
  const server: http.Server = opts.tls
    ? https.createServer(
        {
          ...timing,
          handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
          cert: opts.tls.cert,
          key: opts.tls.key,
          minVersion: "TLSv1.2",
          ciphers: TLS_CIPHERS,
          honorCipherOrder: true,
          ...clientCertificateOptions(opts.tls),
        },
        handler,
      )
    : http.createServer(timing, handler);
  server.on("connection", (socket: Socket) => guard.admit(socket));
  server.requestTimeout = requestTimeout;
  server.headersTimeout = opts.headersTimeoutMs ?? 20_000;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 65_000;

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      resolve({
        address: `${host}:${addr.port}`,
        port: addr.port,
        server,
        addRoutes(routes) {
          allRoutes = [...allRoutes, ...routes];
          router = new Router(allRoutes);
        },
        close: (graceMs = 25_000) =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            const finish = (): void => {
              server.closeAllConnections();
            };
            if (inflight === 0) finish();
            else {
              idle = finish;
              setTimeout(finish, graceMs).unref();
            }
          }),
      });
    });
  });
}
