// The authenticators a scope's chain is made of. Each looks at one kind of credential and
// either passes (none of its business), names an identity, or refuses the request.
import type { IncomingMessage } from "node:http";
import type { X509Certificate } from "node:crypto";
import { bearerToken, issuedBy, peerCertificate, subjectNames, tokenMatches } from "./credentials.js";
import type { AuthMethod, Identity } from "./identity.js";
import { KubeUnavailableError, type KubeReviewer } from "./kube-review.js";

export type AuthnResult =
  | { kind: "none" }
  | { kind: "identity"; identity: Identity }
  | { kind: "refused"; status: 401 | 403 | 503; reason: string };

export type Authenticator = (req: IncomingMessage) => AuthnResult | Promise<AuthnResult>;

const NONE: AuthnResult = { kind: "none" };

/** A bearer token from a fixed list (kubetrail's own ingest or read tokens). */
export function staticTokens(tokens: readonly string[], method: AuthMethod, user: string): Authenticator {
  return (req) => {
    const token = bearerToken(req);
    if (typeof token !== "string" || tokens.length === 0 || !tokenMatches(token, tokens)) return NONE;
    return { kind: "identity", identity: { user, groups: [], method } };
  };
}

/**
 * A client certificate issued by the ingest CA (--client-ca): the apiserver's webhook. A
 * certificate from no trusted CA, presented without a token, is refused outright.
 */
export function ingestCertificates(cas: readonly X509Certificate[] | undefined): Authenticator {
  return (req) => {
    const peer = peerCertificate(req);
    if (peer === undefined) return NONE;
    if (peer.authorized && (cas === undefined || issuedBy(peer.cert, cas))) {
      return {
        kind: "identity",
        identity: {
          user: subjectNames(peer.cert).commonName ?? "client-certificate",
          groups: [],
          method: "ingest-cert",
        },
      };
    }
    if (req.headers.authorization === undefined)
      return {
        kind: "refused",
        status: 403,
        reason: "client certificate is not signed by the configured client CA",
      };
    return NONE;
  };
}

/** A client certificate from the cluster's client CA (--kube-client-ca): user = CN, groups = O. */
export function kubeCertificates(cas: readonly X509Certificate[]): Authenticator {
  return (req) => {
    const peer = peerCertificate(req);
    if (peer === undefined || !peer.authorized || !issuedBy(peer.cert, cas)) return NONE;
    const { commonName, organizations } = subjectNames(peer.cert);
    if (commonName === undefined || commonName === "")
      return {
        kind: "refused",
        status: 401,
        reason: "client certificate has no common name (the user name)",
      };
    const groups = [...organizations, "system:authenticated"];
    return { kind: "identity", identity: { user: commonName, groups, method: "kube-cert" } };
  };
}

/** A Kubernetes bearer token (OIDC, service account, static), checked with TokenReview. */
export function tokenReview(reviewer: KubeReviewer): Authenticator {
  return async (req) => {
    const token = bearerToken(req);
    if (typeof token !== "string") return NONE;
    try {
      const r = await reviewer.reviewToken(token);
      if (r.authenticated) return { kind: "identity", identity: r.identity };
      return {
        kind: "refused",
        status: 401,
        reason: `token not accepted by the Kubernetes API (${r.reason})`,
      };
    } catch (err) {
      if (err instanceof KubeUnavailableError) return { kind: "refused", status: 503, reason: err.message };
      throw err;
    }
  };
}

/**
 * Runs the chain: the first authenticator that names an identity or refuses decides. When
 * none does, a request without a credential gets 401 and one with an unknown token 403.
 */
export async function runChain(
  chain: readonly Authenticator[],
  req: IncomingMessage,
  scope: string,
): Promise<AuthnResult> {
  for (const authenticate of chain) {
    const r = await authenticate(req);
    if (r.kind !== "none") return r;
  }
  const token = bearerToken(req);
  if (token === null)
    return { kind: "refused", status: 401, reason: "Authorization header is not a bearer token" };
  if (token === undefined) return { kind: "refused", status: 401, reason: `credential required (${scope})` };
  return { kind: "refused", status: 403, reason: `token not valid for ${scope}` };
}
