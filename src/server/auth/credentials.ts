// Reading the credential a request presents: a bearer token (compared in constant time) or a
// TLS client certificate, and which configured CAs its verified chain leads to. Nothing here
// decides who may do what.
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";

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

/** SHA-256 of a token, hex: the only form in which a token is ever kept (cache keys). */
export function tokenDigest(token: string): string {
  return digest(token).toString("hex");
}

/** The bearer token; undefined when there is no Authorization header, null when it is not a bearer token. */
export function bearerToken(req: IncomingMessage): string | undefined | null {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === "") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** What a client certificate's CA grants: posting events, reading the whole log, or being a Kubernetes user. */
export type CaRight = "ingest" | "read" | "kube";

/** SHA-256 fingerprints (as Node prints them) of the CA certificates that grant each right. */
export interface ClientCaRights {
  /** --client-ca: may post events and admission reviews. */
  ingest: ReadonlySet<string>;
  /** --read-client-ca: may read the whole log. */
  read: ReadonlySet<string>;
  /** --kube-client-ca: its certificates are Kubernetes users (CN) and groups (O), authorized by RBAC. */
  kube?: ReadonlySet<string>;
}

/** The fingerprints of every certificate in a PEM bundle, for ClientCaRights. */
export function caFingerprints(pemBundle: string): Set<string> {
  const blocks = pemBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return new Set(blocks.map((b) => new X509Certificate(b).fingerprint256));
}

export interface PeerCertificate {
  presented: boolean;
  /** The rights its (verified) chain grants; empty when unverified. */
  rights: ReadonlySet<CaRight>;
  /** The subject as the apiserver reads it, for a verified certificate. */
  subject?: { commonName?: string; organizations: string[] };
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

/** The subject's attributes as the apiserver reads a client certificate: CN is the user, each O a group. */
export function subjectNames(cert: X509Certificate): { commonName?: string; organizations: string[] } {
  const out: { commonName?: string; organizations: string[] } = { organizations: [] };
  for (const line of cert.subject.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "CN") out.commonName = value;
    if (key === "O") out.organizations.push(...value.split("+").filter((v) => v !== ""));
  }
  return out;
}

/** The connection's client certificate, what its verified chain grants, and its subject. */
export function peerCertificate(req: IncomingMessage, cas: ClientCaRights | undefined): PeerCertificate {
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
    const rights = new Set<CaRight>();
    const seen = new Set<string>();
    for (
      let c: DetailedPeerCertificate | undefined = cert;
      c && !seen.has(c.fingerprint256);
      c = c.issuerCertificate
    ) {
      seen.add(c.fingerprint256);
      if (cas.ingest.has(c.fingerprint256)) rights.add("ingest");
      if (cas.read.has(c.fingerprint256)) rights.add("read");
      if (cas.kube?.has(c.fingerprint256)) rights.add("kube");
    }
    result = { presented: true, rights, subject: subjectNames(new X509Certificate(cert.raw)) };
  }
  checked.set(socket, result);
  return result;
}
