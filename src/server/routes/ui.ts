// The web UI: its static files under /ui/ (built by `npm run build` into dist/web), `/` sending
// browsers there, and the session endpoints it logs in and out with. The files hold no audit
// data and are public; everything they show comes from read endpoints behind the session.
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { tokenMatches } from "../auth/credentials.js";
import { KubeUnavailableError, type KubeReviewer } from "../auth/kube-review.js";
import { readBody } from "../body.js";
import { HttpError, type Route } from "../route.js";
import { jsonReply } from "../server.js";
import {
  clearedSessionCookie,
  credentialFingerprint,
  LoginThrottle,
  sameOrigin,
  sessionCookie,
  type SessionIdentity,
  type SessionStore,
} from "../session.js";

/**
 * Turns a credential typed into the login form into an identity, or undefined when this
 * authenticator does not accept it (an HttpError when it cannot tell, e.g. 503).
 */
export type LoginAuthenticator = (credential: string) => Promise<SessionIdentity | undefined>;

export function readTokenLogin(readTokens: readonly string[]): LoginAuthenticator {
  return async (credential) =>
    tokenMatches(credential, readTokens)
      ? { name: `read token ${credentialFingerprint(credential)}`, via: "read-token", scopes: ["read"] }
      : undefined;
}

/**
 * A Kubernetes bearer token (OIDC, service account, static), checked with TokenReview (serve
 * --kube-auth). The session carries the identity the apiserver returned, so every read is then
 * authorized for that user by SubjectAccessReview, as the same token sent as a bearer would be.
 * The token itself is not kept: revoking it does not end the session (idle and absolute limits
 * do), but removing the user's RoleBinding takes effect within the decision cache's TTL.
 */
export function kubeTokenLogin(reviewer: Pick<KubeReviewer, "reviewToken">): LoginAuthenticator {
  return async (credential) => {
    let review;
    try {
      review = await reviewer.reviewToken(credential);
    } catch (err) {
      if (err instanceof KubeUnavailableError) throw new HttpError(503, err.message, {}, { cause: err });
      throw err;
    }
    if (!review.authenticated) return undefined;
    const { user, groups, uid, extra } = review.identity;
    return {
      name: user,
      via: "kube-token",
      scopes: ["read"],
      groups,
      ...(uid === undefined ? {} : { uid }),
      ...(extra === undefined ? {} : { extra }),
    };
  };
}

/**
 * What every UI response carries. No inline script or style anywhere: the CSP allows only this
 * origin's files, and the page may not be framed or send its referrer elsewhere.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Frame-Options": "DENY",
};

/** Answers that carry audit data or session state are never stored by a cache. */
export const PRIVATE_NO_STORE = { "Cache-Control": "no-store", Vary: "Cookie, Authorization" };

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
  cache: string;
}

/** Files Vite names by content hash never change: a year, immutable. The page itself is revalidated. */
const HASHED = /-[A-Za-z0-9_-]{8,}\.(js|css|svg|png|woff2)$/;
const MAX_ASSETS_BYTES = 16 * 1024 * 1024;

/** The built UI held in memory (it is small), each compressible file also gzipped once. */
export function loadUiAssets(dir: string): Map<string, Asset> | undefined {
  let total = 0;
  const assets = new Map<string, Asset>();
  const walk = (sub: string): void => {
    for (const name of readdirSync(path.join(dir, sub))) {
      const rel = sub === "" ? name : `${sub}/${name}`;
      const full = path.join(dir, rel);
      if (statSync(full).isDirectory()) {
        walk(rel);
        continue;
      }
      const ext = path.extname(name);
      const type = TYPES[ext];
      if (type === undefined) continue;
      const body = readFileSync(full);
      total += body.length;
      if (total > MAX_ASSETS_BYTES)
        throw new Error(`${dir}: the UI's files exceed ${MAX_ASSETS_BYTES} bytes`);
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 512;
      assets.set(rel, {
        body,
        ...(compressible ? { gzip: gzipSync(body, { level: 9 }) } : {}),
        type,
        cache: HASHED.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
      });
    }
  };
  try {
    walk("");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return assets.has("index.html") ? assets : undefined;
}

function sendAsset(res: ServerResponse, asset: Asset, acceptEncoding: string | undefined): void {
  const gzip = asset.gzip !== undefined && /\bgzip\b/.test(acceptEncoding ?? "");
  const body = gzip ? (asset.gzip as Buffer) : asset.body;
  res.writeHead(200, {
    ...UI_SECURITY_HEADERS,
    "Content-Type": asset.type,
    "Content-Length": body.length,
    "Cache-Control": asset.cache,
    ...(asset.gzip !== undefined ? { Vary: "Accept-Encoding" } : {}),
    ...(gzip ? { "Content-Encoding": "gzip" } : {}),
  });
  res.end(body);
}

function redirect(res: ServerResponse, status: 301 | 302, location: string): void {
  res.writeHead(status, { ...UI_SECURITY_HEADERS, Location: location, "Content-Length": 0 });
  res.end();
}

export interface UiRouteDeps {
  /** The built UI (dist/web); undefined when it was not built, and /ui/ says so. */
  assets: Map<string, Asset> | undefined;
  sessions: SessionStore;
  /** Tried in order at login; the first that accepts the credential names the session. */
  logins: readonly LoginAuthenticator[];
  throttle?: LoginThrottle;
}

const MAX_LOGIN_BODY = 16 * 1024;

export function uiRoutes(deps: UiRouteDeps): Route[] {
  const throttle = deps.throttle ?? new LoginThrottle();
  const page = (res: ServerResponse, rest: string, acceptEncoding: string | undefined): void => {
    if (deps.assets === undefined)
      throw new HttpError(503, "the web UI is not built: run `npm run build` (it writes dist/web)");
    const asset = deps.assets.get(rest);
    if (asset !== undefined) return sendAsset(res, asset, acceptEncoding);
    // Files are looked up exactly; any other path under /ui/ is a page of the app (its router reads it).
    if (rest.startsWith("assets/") || rest.startsWith("api/") || path.extname(rest) !== "")
      throw new HttpError(404, "not found");
    sendAsset(res, deps.assets.get("index.html") as Asset, acceptEncoding);
  };

  return [
    {
      method: "GET",
      pattern: "/",
      scope: "public",
      async handle({ res }) {
        redirect(res, 302, "/ui/");
      },
    },
    {
      method: "GET",
      pattern: "/ui/api/session",
      scope: "public",
      async handle({ req, res }) {
        const found = deps.sessions.fromRequest(req);
        jsonReply(
          res,
          200,
          found === undefined
            ? { authenticated: false }
            : {
                authenticated: true,
                identity: { name: found.session.identity.name, via: found.session.identity.via },
                expiresAt: new Date(found.session.expiresMs).toISOString(),
                idleSeconds: Math.floor(deps.sessions.idleMs / 1000),
              },
          PRIVATE_NO_STORE,
        );
      },
    },
    {
      method: "POST",
      pattern: "/ui/api/login",
      scope: "public",
      async handle({ req, res }) {
        if (!sameOrigin(req)) throw new HttpError(403, "login must come from this server's own page");
        if (!/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
          throw new HttpError(415, 'login takes a JSON body: {"token": "…"}');
        const address = req.socket.remoteAddress ?? "unknown";
        const wait = throttle.retryAfterMs(address);
        if (wait > 0) {
          req.resume();
          throw new HttpError(429, "too many failed logins from this address; try again later", {
            "Retry-After": String(Math.ceil(wait / 1000)),
          });
        }
        const { body } = await readBody(req, { maxBytes: MAX_LOGIN_BODY, maxDecodedBytes: MAX_LOGIN_BODY });
        let token: unknown;
        try {
          token = (JSON.parse(body.toString("utf8")) as { token?: unknown }).token;
        } catch {
          throw new HttpError(400, "login body is not JSON");
        }
        if (typeof token !== "string" || token.trim() === "")
          throw new HttpError(400, 'login body needs "token": a read token or a Kubernetes token');
        let identity: SessionIdentity | undefined;
        for (const login of deps.logins) {
          identity = await login(token.trim());
          if (identity !== undefined) break;
        }
        if (identity === undefined) {
          throttle.failed(address);
          throw new HttpError(401, "this token is not accepted for reading the audit trail");
        }
        const { id, session } = deps.sessions.create(identity);
        jsonReply(
          res,
          200,
          {
            authenticated: true,
            identity: { name: identity.name, via: identity.via },
            expiresAt: new Date(session.expiresMs).toISOString(),
          },
          { ...PRIVATE_NO_STORE, "Set-Cookie": sessionCookie(id, deps.sessions.maxAgeMs) },
        );
      },
    },
    {
      method: "POST",
      pattern: "/ui/api/logout",
      scope: "public",
      async handle({ req, res }) {
        if (!sameOrigin(req)) throw new HttpError(403, "logout must come from this server's own page");
        req.resume();
        const found = deps.sessions.fromRequest(req);
        if (found !== undefined) deps.sessions.end(found.id);
        jsonReply(
          res,
          200,
          { authenticated: false },
          {
            ...PRIVATE_NO_STORE,
            "Set-Cookie": clearedSessionCookie(),
          },
        );
      },
    },
    {
      method: "GET",
      pattern: "/ui/*",
      scope: "public",
      async handle({ req, res, url, params }) {
        // The router ignores a trailing slash; the page's relative URLs do not.
        if (url.pathname === "/ui") return redirect(res, 301, "/ui/");
        const rest = params["*"] ?? "";
        page(res, rest === "" ? "index.html" : rest, req.headers["accept-encoding"]);
      },
    },
  ];
}
