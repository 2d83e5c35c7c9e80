// Authentication as a chain per scope, Hono-middleware style: authenticators → identity →
// authorizer. The server runs the chain of a route's scope before its handler and hands the
// handler an Access (identity + authorizer). More authenticators (the UI's session login) plug
// in per scope without touching the routes.
import type { IncomingMessage } from "node:http";
import type { AuthScope } from "../route.js";
import { Access } from "./access.js";
import {
  ingestCertificates,
  kubeCertificates,
  runChain,
  staticTokens,
  tokenReview,
  type Authenticator,
  type AuthnResult,
} from "./authenticators.js";
import { parseCaBundle } from "./credentials.js";
import { ownTokensOnly, type Authorizer, type Identity } from "./identity.js";
import type { KubeReviewer } from "./kube-review.js";

export interface AuthConfig {
  /** Tokens accepted for ingest (and admission) scope. */
  ingestTokens: readonly string[];
  /** kubetrail's own read tokens: read the whole log. */
  readTokens: readonly string[];
  /** True when the TLS server requests client certificates verified against --client-ca. */
  clientCertificates: boolean;
  /** PEM of --client-ca, to tell the apiserver's certificates from users' (kube) ones. */
  clientCa?: string;
  /** Kubernetes identities on the read API: TokenReview + SubjectAccessReview, and x509 users. */
  kube?: {
    reviewer: KubeReviewer;
    /** PEM of the cluster's client CA (--kube-client-ca): certificates from it are users. */
    clientCa?: string;
  };
  /** Authenticators tried after the built-in ones, per scope. */
  extra?: Partial<Record<AuthScope, readonly Authenticator[]>>;
}

/** A request that passed its scope's chain. */
export interface Authenticated {
  identity: Identity;
  access: Access;
}

export type AuthOutcome =
  ({ ok: true } & Authenticated) | { ok: false; status: 401 | 403 | 503; reason: string };

const ANONYMOUS: Identity = { user: "system:anonymous", groups: [], method: "anonymous" };

/** Builds the per-scope chains and the authorizer once; `authenticate` runs per request. */
export function authChains(
  config: AuthConfig,
): (req: IncomingMessage, scope: AuthScope) => Promise<AuthOutcome> {
  const ingestCas = config.clientCa === undefined ? undefined : parseCaBundle(config.clientCa);
  const ingest: Authenticator[] = [
    ...(config.clientCertificates ? [ingestCertificates(ingestCas)] : []),
    staticTokens(config.ingestTokens, "ingest-token", "kubetrail:ingest"),
  ];
  const read: Authenticator[] = [staticTokens(config.readTokens, "read-token", "kubetrail:reader")];
  const kube = config.kube;
  if (kube?.clientCa !== undefined) read.push(kubeCertificates(parseCaBundle(kube.clientCa)));
  if (kube !== undefined) read.push(tokenReview(kube.reviewer));
  const chains: Record<Exclude<AuthScope, "public">, Authenticator[]> = {
    ingest: [...ingest, ...(config.extra?.ingest ?? [])],
    admission: [...ingest, ...(config.extra?.admission ?? [])],
    read: [...read, ...(config.extra?.read ?? [])],
  };
  const authorizer: Authorizer =
    kube === undefined
      ? ownTokensOnly
      : {
          decide: (identity, verb, ns) =>
            identity.method === "read-token"
              ? ownTokensOnly.decide(identity, verb, ns)
              : kube.reviewer.decide(identity, verb, ns),
        };
  return async (req, scope) => {
    let r: AuthnResult;
    if (scope === "public") r = { kind: "identity", identity: ANONYMOUS };
    else r = await runChain(chains[scope], req, scope);
    if (r.kind === "refused") return { ok: false, status: r.status, reason: r.reason };
    if (r.kind === "none") return { ok: false, status: 401, reason: `credential required (${scope})` };
    return { ok: true, identity: r.identity, access: new Access(r.identity, authorizer) };
  };
}
