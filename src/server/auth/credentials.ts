// Reading the credential a request presents: a bearer token (compared in constant time) or a
// TLS client certificate (and which CA issued it). Nothing here decides who may do what.
import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

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

export interface PeerCertificate {
  /** The TLS layer verified it against one of the CAs the server trusts for clients. */
  authorized: boolean;
  cert: X509Certificate;
}

/** The client certificate of the connection, if one was presented. */
export function peerCertificate(req: IncomingMessage): PeerCertificate | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerX509Certificate !== "function") return undefined;
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return undefined;
  return { authorized: socket.authorized === true, cert };
}

/** The certificates of a PEM bundle. */
export function parseCaBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/** Whether one of `cas` issued and signed `cert` (the chain itself was checked by TLS). */
export function issuedBy(cert: X509Certificate, cas: readonly X509Certificate[]): boolean {
  return cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
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
