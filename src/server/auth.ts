// Who may call what. Ingest is the apiserver's credential: a client certificate from --client-ca
// and/or an ingest token. Read scope (event content: queries, proofs, entry bundles) takes read
// tokens and client certificates from --read-client-ca. Metrics take a read credential or a
// metrics token when --metrics-auth requires one. No credential → 401, a wrong one → 403.
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";
import type { AuthScope } from "./route.js";

/** SHA-256 fingerprints (as Node prints them) of the CA certificates that grant each right. */
export interface ClientCaRights {
  /** --client-ca: may post events and admission reviews. */
  ingest: ReadonlySet<string>;
  /** --read-client-ca: may read the whole log. */
  read: ReadonlySet<string>;
}

export interface AuthConfig {
  /** Tokens accepted for ingest (and admission) scope. */
  ingestTokens: readonly string[];
  readTokens: readonly string[];
  /** Tokens that may scrape /metrics and nothing else (--metrics-token-file). */
  metricsTokens?: readonly string[];
  /** /metrics requires a credential (--metrics-auth required); otherwise it is public. */
  metricsAuth?: boolean;
  /** Set when the TLS server requests client certificates (--client-ca, --read-client-ca). */
  clientCas?: ClientCaRights;
}

export type AuthOutcome =
  { ok: true; via: "public" | "client-cert" | "token" } | { ok: false; status: 401 | 403; reason: string };

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

/** The fingerprints of every certificate in a PEM bundle, for ClientCaRights. */
export function caFingerprints(pemBundle: string): Set<string> {
  const blocks = pemBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return new Set(blocks.map((b) => new X509Certificate(b).fingerprint256));
}

function bearerToken(req: IncomingMessage): string | undefined | null {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === "") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null; // null: an Authorization header we cannot accept
}

interface PeerCertificate {
  presented: boolean;
  /** The rights its (verified) chain grants; empty when unverified. */
  rights: ReadonlySet<"ingest" | "read">;
  /** Why a presented certificate grants nothing, for the 403. */
  problem?: string;
}

const NO_CERTIFICATE: PeerCertificate = { presented: false, rights: new Set() };
/** Per connection: the chain is walked once, not per request on a keep-alive connection. */
const checked = new WeakMap<object, PeerCertificate>();

/** OpenSSL's verdicts on a client certificate that deserve their own words. */
function verifyProblem(code: string, cert: DetailedPeerCertificate): string {
  if (code === "CERT_HAS_EXPIRED")
    return `client certificate "${cert.subject?.CN ?? ""}" expired on ${cert.valid_to}`;
  if (code === "CERT_NOT_YET_VALID")
    return `client certificate "${cert.subject?.CN ?? ""}" is not valid before ${cert.valid_from}`;
  return `client certificate is not signed by a configured client CA (${code})`;
}

function peerCertificate(req: IncomingMessage, cas: ClientCaRights | undefined): PeerCertificate {
  const socket = req.socket as Partial<TLSSocket>;
  if (cas === undefined || typeof socket.getPeerCertificate !== "function") return NO_CERTIFICATE;
  const known = checked.get(socket);
  if (known !== undefined) return known;
  const cert = socket.getPeerCertificate(true);
  let result: PeerCertificate;
  if (cert === null || Object.keys(cert).length === 0) result = NO_CERTIFICATE;
  else if (socket.authorized !== true) {
    const code = String(socket.authorizationError ?? "UNKNOWN");
    result = { presented: true, rights: new Set(), problem: verifyProblem(code, cert) };
  } else {
    // The verified chain up to its trust anchor (which points at itself); whichever configured
    // bundle holds a certificate of it decides the rights.
    const rights = new Set<"ingest" | "read">();
    const seen = new Set<string>();
    for (
      let c: DetailedPeerCertificate | undefined = cert;
      c && !seen.has(c.fingerprint256);
      c = c.issuerCertificate
    ) {
      seen.add(c.fingerprint256);
      if (cas.ingest.has(c.fingerprint256)) rights.add("ingest");
      if (cas.read.has(c.fingerprint256)) rights.add("read");
    }
    result = { presented: true, rights };
  }
  checked.set(socket, result);
  return result;
}

export function authenticate(req: IncomingMessage, scope: AuthScope, config: AuthConfig): AuthOutcome {
  if (scope === "public" || (scope === "metrics" && config.metricsAuth !== true))
    return { ok: true, via: "public" };
  const right = scope === "ingest" || scope === "admission" ? "ingest" : "read";
  const cert = peerCertificate(req, config.clientCas);
  if (cert.rights.has(right)) return { ok: true, via: "client-cert" };
  const token = bearerToken(req);
  if (token === undefined) {
    if (cert.presented)
      return {
        ok: false,
        status: 403,
        reason:
          cert.problem ?? `client certificate does not grant ${scope} (its CA is not configured for it)`,
      };
    return { ok: false, status: 401, reason: `credential required (${scope})` };
  }
  if (token === null) return { ok: false, status: 401, reason: "Authorization header is not a bearer token" };
  const valid =
    right === "ingest"
      ? config.ingestTokens
      : scope === "metrics"
        ? [...config.readTokens, ...(config.metricsTokens ?? [])]
        : config.readTokens;
  if (tokenMatches(token, valid)) return { ok: true, via: "token" };
  return { ok: false, status: 403, reason: `token not valid for ${scope}` };
}
