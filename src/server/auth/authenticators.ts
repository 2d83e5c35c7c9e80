// The authenticators a scope's chain is made of. Each looks at one kind of credential and
// either passes (none of its business), names an identity, or refuses the request.
import type { IncomingMessage } from "node:http";
import { bearerToken, peerCertificate, tokenMatches, type ClientCaRights } from "./credentials.js";
import type { AuthMethod, Identity } from "./identity.js";
import { KubeUnavailableError, type KubeReviewer } from "./kube-review.js";

export type AuthnResult =
  | { kind: "none" }
  | { kind: "identity"; identity: Identity }
  | { kind: "refused"; status: 401 | 403 | 503; reason: string };

export type Authenticator = (req: IncomingMessage) => AuthnResult | Promise<AuthnResult>;

const NONE: AuthnResult = { kind: "none" };

/** A bearer token from a fixed list (kubetrail's own ingest, read or metrics tokens). */
export function staticTokens(tokens: readonly string[], method: AuthMethod, user: string): Authenticator {
  return (req) => {
    const token = bearerToken(req);
    if (typeof token !== "string" || tokens.length === 0 || !tokenMatches(token, tokens)) return NONE;
    return { kind: "identity", identity: { user, groups: [], method } };
  };
}

/**
 * A client certificate whose verified chain leads to a CA configured for `right` (--client-ca
 * for ingest, --read-client-ca for reading the whole log): the identity is kubetrail's own.
 */
export function caCertificates(cas: ClientCaRights, right: "ingest" | "read"): Authenticator {
  const method: AuthMethod = right === "ingest" ? "ingest-cert" : "read-cert";
  return (req) => {
    const peer = peerCertificate(req, cas);
    if (!peer.rights.has(right)) return NONE;
    return {
      kind: "identity",
      identity: { user: peer.subject?.commonName ?? "client-certificate", groups: [], method },
    };
  };
}

/** A client certificate of the cluster's client CA (--kube-client-ca): user = CN, groups = O. */
export function kubeCertificates(cas: ClientCaRights): Authenticator {
  return (req) => {
    const peer = peerCertificate(req, cas);
    if (!peer.rights.has("kube")) return NONE;
    const commonName = peer.subject?.commonName;
    if (commonName === undefined || commonName === "")
      return {
        kind: "refused",
        status: 401,
        reason: "client certificate has no common name (the user name)",
      };
    const groups = [...(peer.subject?.organizations ?? []), "system:authenticated"];
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
 * none does: a certificate that grants nothing here, presented without a token, is a 403 saying
 * why; no credential is a 401; an unknown token a 403.
 */
export async function runChain(
  chain: readonly Authenticator[],
  req: IncomingMessage,
  scope: string,
  cas: ClientCaRights | undefined,
): Promise<AuthnResult> {
  for (const authenticate of chain) {
    const r = await authenticate(req);
    if (r.kind !== "none") return r;
  }
  const token = bearerToken(req);
  if (token === undefined) {
    const cert = peerCertificate(req, cas);
    if (cert.presented)
      return {
        kind: "refused",
        status: 403,
        reason:
          cert.problem ?? `client certificate does not grant ${scope} (its CA is not configured for it)`,
      };
    return { kind: "refused", status: 401, reason: `credential required (${scope})` };
  }
  if (token === null)
    return { kind: "refused", status: 401, reason: "Authorization header is not a bearer token" };
  return { kind: "refused", status: 403, reason: `token not valid for ${scope}` };
}
