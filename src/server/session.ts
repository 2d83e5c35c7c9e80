// Browser sessions for the web UI. A login exchanges a credential (a read token, or with
// --kube-auth a Kubernetes token checked by TokenReview) for a random session id carried in a cookie that is HttpOnly, Secure, SameSite=Strict
// and __Host- prefixed. The server keeps only the SHA-256 of each id, with the identity and
// its expiry, so a copy of its memory (or a log line) cannot be replayed as a session.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Authenticator } from "./auth/authenticators.js";

/** The cookie's name: the __Host- prefix makes browsers refuse it unless Secure, Path=/ and host-only. */
export const SESSION_COOKIE = "__Host-kubetrail-session";

/** Who a session stands for, as the authenticator that accepted the login saw it. */
export interface SessionIdentity {
  /** The user: shown in the UI and in logs, never the credential itself. */
  name: string;
  /** How the login was authenticated ("read-token", "kube-token"): the identity's AuthMethod. */
  via: string;
  /** Scopes the session may use; the UI only ever needs "read". */
  scopes: readonly "read"[];
  groups?: readonly string[];
  /** What a Kubernetes TokenReview returned besides user and groups, passed on to SubjectAccessReview. */
  uid?: string;
  extra?: Readonly<Record<string, readonly string[]>>;
}

export interface Session {
  identity: SessionIdentity;
  createdMs: number;
  /** Absolute end: the session is refused after this, however active. */
  expiresMs: number;
  lastSeenMs: number;
}

export interface SessionOptions {
  /** A session unused for this long ends. */
  idleMs?: number;
  /** A session ends this long after login, whatever its use. */
  maxAgeMs?: number;
  /** At most this many live sessions; the one closest to its end is dropped for a new one. */
  maxSessions?: number;
  now?: () => number;
}

export const DEFAULT_SESSION_IDLE_MS = 60 * 60 * 1000;
export const DEFAULT_SESSION_MAX_AGE_MS = 12 * 60 * 60 * 1000;
const DEFAULT_MAX_SESSIONS = 10_000;
const ID_BYTES = 32;

function idHash(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}

/** Cookie values by name from a Cookie header; a repeated name keeps every value, in order. */
export function parseCookies(header: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const list = out.get(name) ?? [];
    list.push(value);
    out.set(name, list);
  }
  return out;
}

/** Sessions kept in this process's memory: a restart signs everyone out, which is the safe way round. */
export class SessionStore {
  private readonly byHash = new Map<string, Session>();
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(opts: SessionOptions = {}) {
    this.idleMs = opts.idleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_SESSION_MAX_AGE_MS;
    this.maxSessions = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.now = opts.now ?? Date.now;
  }

  /** Starts a session; returns the id to put in the cookie (the only place it exists in clear). */
  create(identity: SessionIdentity): { id: string; session: Session } {
    this.sweep();
    if (this.byHash.size >= this.maxSessions) this.dropSoonestEnding();
    const id = randomBytes(ID_BYTES).toString("base64url");
    const now = this.now();
    const session: Session = { identity, createdMs: now, expiresMs: now + this.maxAgeMs, lastSeenMs: now };
    this.byHash.set(idHash(id), session);
    return { id, session };
  }

  /**
   * The live session for this id, its idle clock restarted; undefined when unknown, idle too
   * long or past its end. The lookup is by hash, so comparing ids never leaks through timing.
   */
  touch(id: string): Session | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = idHash(id);
    const session = this.byHash.get(key);
    if (session === undefined) return undefined;
    const now = this.now();
    if (now >= session.expiresMs || now - session.lastSeenMs >= this.idleMs) {
      this.byHash.delete(key);
      return undefined;
    }
    session.lastSeenMs = now;
    return session;
  }

  /** Ends the session with this id (logout); unknown ids are ignored. */
  end(id: string): void {
    this.byHash.delete(idHash(id));
  }

  /** The session a request's cookie names, if any is live. */
  fromRequest(req: IncomingMessage): { id: string; session: Session } | undefined {
    for (const id of parseCookies(req.headers.cookie).get(SESSION_COOKIE) ?? []) {
      const session = this.touch(id);
      if (session !== undefined) return { id, session };
    }
    return undefined;
  }

  get size(): number {
    return this.byHash.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, s] of this.byHash) {
      if (now >= s.expiresMs || now - s.lastSeenMs >= this.idleMs) this.byHash.delete(key);
    }
  }

  private dropSoonestEnding(): void {
    let victim: string | undefined;
    let end = Infinity;
    for (const [key, s] of this.byHash) {
      const ends = Math.min(s.expiresMs, s.lastSeenMs + this.idleMs);
      if (ends < end) {
        end = ends;
        victim = key;
      }
    }
    if (victim !== undefined) this.byHash.delete(victim);
  }
}

/** The Set-Cookie value that hands a new session to the browser. */
export function sessionCookie(id: string, maxAgeMs: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}`;
}

/** The Set-Cookie value that makes the browser forget its session. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}

/**
 * True when a state-changing request (login, logout) comes from a page of this server: the
 * browser's Origin must name this host, or Sec-Fetch-Site must say same-origin. Together with
 * SameSite=Strict cookies and reads that change nothing, this is the UI's CSRF defence.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return false;
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin === undefined) return site === "same-origin";
  if (host === undefined) return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  return parsed.host === host;
}

/**
 * Counts failed logins per client address over a window, so guessing credentials through the
 * login form costs time; bounded in memory by dropping the oldest addresses.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; sinceMs: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until this address may try again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const f = this.failures.get(address);
    if (f === undefined) return 0;
    const left = f.sinceMs + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(address);
      return 0;
    }
    return f.count >= this.maxFailures ? left : 0;
  }

  failed(address: string): void {
    const now = this.now();
    const f = this.failures.get(address);
    if (f === undefined || now - f.sinceMs >= this.windowMs) {
      if (this.failures.size >= this.maxAddresses) {
        const oldest = this.failures.keys().next().value;
        if (oldest !== undefined) this.failures.delete(oldest);
      }
      this.failures.set(address, { count: 1, sinceMs: now });
    } else f.count++;
  }
}

/** A short fingerprint of a credential, to tell tokens apart in the UI and logs without revealing them. */
export function credentialFingerprint(credential: string): string {
  return createHash("sha256").update(credential, "utf8").digest("hex").slice(0, 12);
}

/**
 * The read scope's authenticator for session cookies. Only GET and HEAD take the cookie: reads
 * change nothing, and SameSite=Strict keeps it off cross-site requests. The identity is the one
 * that logged in: a read token's session reads as a read token does, a Kubernetes token's as
 * that Kubernetes user, authorized by SubjectAccessReview on each request.
 */
export function sessionAuthenticator(sessions: Pick<SessionStore, "fromRequest">): Authenticator {
  return (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return { kind: "none" };
    const found = sessions.fromRequest(req);
    if (found === undefined) return { kind: "none" };
    const { name, via, groups, uid, extra } = found.session.identity;
    return {
      kind: "identity",
      identity: {
        user: name,
        groups: [...(groups ?? [])],
        ...(uid === undefined ? {} : { uid }),
        ...(extra === undefined ? {} : { extra }),
        method: via,
      },
    };
  };
}
