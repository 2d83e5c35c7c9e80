// Who may call what. Ingest is the apiserver's credential: a client certificate from --client-ca
// and/or a bearer token. Read scope takes read tokens, or on GET a web UI session cookie.
// No credential → 401, a wrong one → 403.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { AuthScope } from "./route.js";
import type { SessionStore } from "./session.js";

export interface AuthConfig {
  /** Tokens accepted for ingest (and admission) scope. */
  ingestTokens: readonly string[];
  readTokens: readonly string[];
  /** True when the TLS server requests client certificates verified against --client-ca. */
  clientCertificates: boolean;
  /** The web UI's sessions: a live session cookie stands for a read credential on GET and HEAD. */
  sessions?: Pick<SessionStore, "fromRequest">;
}

export type AuthOutcome =
  | { ok: true; via: "public" | "client-cert" | "token" | "session" }
  | { ok: false; status: 401 | 403; reason: string };

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Constant-time membership test: every candidate is compared (on equal-length digests) so
 * neither the position nor a matching prefix of a valid token leaks through timing.
 */
export function tokenMatches(presented: string, valid: readonly string[]): boolean {
  const p = digest(presented);
  let match = false;
  for (const v of valid) {
    if (timingSafeEqual(p, digest(v))) match = true;
  }
  return match;
}

function bearerToken(req: IncomingMessage): string | undefined | null {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === "") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null; // null: an Authorization header we cannot accept
}

function peerCertificate(req: IncomingMessage): { presented: boolean; authorized: boolean } {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== "function") return { presented: false, authorized: false };
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && Object.keys(cert).length > 0;
  return { presented, authorized: presented && socket.authorized === true };
}

export function authenticate(req: IncomingMessage, scope: AuthScope, config: AuthConfig): AuthOutcome {
  if (scope === "public") return { ok: true, via: "public" };
  const usesIngestCredential = scope === "ingest" || scope === "admission";
  if (usesIngestCredential && config.clientCertificates) {
    const cert = peerCertificate(req);
    if (cert.authorized) return { ok: true, via: "client-cert" };
    if (cert.presented && req.headers.authorization === undefined) {
      return {
        ok: false,
        status: 403,
        reason: "client certificate is not signed by the configured client CA",
      };
    }
  }
  const token = bearerToken(req);
  // Only reads, which change nothing, take the cookie: SameSite=Strict keeps it off cross-site requests.
  if (token === undefined && scope === "read" && (req.method === "GET" || req.method === "HEAD")) {
    if (config.sessions?.fromRequest(req) !== undefined) return { ok: true, via: "session" };
  }
  if (token === undefined) return { ok: false, status: 401, reason: `credential required (${scope})` };
  if (token === null) return { ok: false, status: 401, reason: "Authorization header is not a bearer token" };
  const valid = usesIngestCredential ? config.ingestTokens : config.readTokens;
  if (tokenMatches(token, valid)) return { ok: true, via: "token" };
  return { ok: false, status: 403, reason: `token not valid for ${scope}` };
}
