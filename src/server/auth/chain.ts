// Authentication as a chain per scope, Hono-middleware style: authenticators → identity →
// authorizer. The server runs the chain of a route's scope before its handler and hands the
// handler an Access (identity + authorizer). More authenticators (the UI's session login) plug
// in per scope (AuthConfig.extra) without touching the routes.
import type { IncomingMessage } from "node:http";
import type { AuthScope } from "../route.js";
import { Access } from "./access.js";
import {
  caCertificates,
  kubeCertificates,
  runChain,
  staticTokens,
  tokenReview,
  type Authenticator,
  type AuthnResult,
} from "./authenticators.js";
import type { ClientCaRights } from "./credentials.js";
import { ownCredentialsOnly, type Authorizer, type Identity } from "./identity.js";
import type { KubeReviewer } from "./kube-review.js";

export interface AuthConfig {
  /** Tokens accepted for ingest (and admission) scope. */
  ingestTokens: readonly string[];
  /** kubetrail's own read tokens: read the whole log. */
  readTokens: readonly string[];
  /** Tokens that may scrape /metrics and nothing else (--metrics-token-file). */
  metricsTokens?: readonly string[];
  /** /metrics requires a credential (--metrics-auth required); otherwise it is public. */
  metricsAuth?: boolean;
  /** Set when the TLS server requests client certificates (--client-ca, --read-client-ca, --kube-client-ca). */
  clientCas?: ClientCaRights;
  /** Kubernetes identities on the read API: TokenReview + SubjectAccessReview (and x509 users, clientCas.kube). */
  kube?: { reviewer: KubeReviewer };
  /** Authenticators tried after the built-in ones, per scope. */
  extra?: Partial<Record<AuthScope, readonly Authenticator[]>>;
}

export type AuthOutcome =
  { ok: true; identity: Identity; access: Access } | { ok: false; status: 401 | 403 | 503; reason: string };

const ANONYMOUS: Identity = { user: "system:anonymous", groups: [], method: "anonymous" };

/** Builds the per-scope chains and the authorizer once; the returned function runs per request. */
export function authChains(
  config: AuthConfig,
): (req: IncomingMessage, scope: AuthScope) => Promise<AuthOutcome> {
  const cas = config.clientCas;
  const certs = (right: "ingest" | "read"): Authenticator[] =>
    cas === undefined ? [] : [caCertificates(cas, right)];
  const ingest = [...certs("ingest"), staticTokens(config.ingestTokens, "ingest-token", "kubetrail:ingest")];
  const ownRead = [...certs("read"), staticTokens(config.readTokens, "read-token", "kubetrail:reader")];
  const kube = config.kube;
  const read = [
    ...ownRead,
    ...(kube !== undefined && cas?.kube !== undefined ? [kubeCertificates(cas)] : []),
    ...(kube !== undefined ? [tokenReview(kube.reviewer)] : []),
  ];
  const chains: Record<Exclude<AuthScope, "public">, Authenticator[]> = {
    ingest: [...ingest, ...(config.extra?.ingest ?? [])],
    admission: [...ingest, ...(config.extra?.admission ?? [])],
    read: [...read, ...(config.extra?.read ?? [])],
    metrics: [
      ...ownRead,
      staticTokens(config.metricsTokens ?? [], "metrics-token", "kubetrail:metrics"),
      ...(config.extra?.metrics ?? []),
    ],
  };
  const authorizer: Authorizer =
    kube === undefined
      ? ownCredentialsOnly
      : {
          decide: (identity, verb, ns) =>
            identity.method === "kube-token" || identity.method === "kube-cert"
              ? kube.reviewer.decide(identity, verb, ns)
              : ownCredentialsOnly.decide(identity, verb, ns),
        };
  return async (req, scope) => {
    let r: AuthnResult;
    if (scope === "public" || (scope === "metrics" && config.metricsAuth !== true))
      r = { kind: "identity", identity: ANONYMOUS };
    else r = await runChain(chains[scope], req, scope, cas);
    if (r.kind === "refused") return { ok: false, status: r.status, reason: r.reason };
    if (r.kind === "none") return { ok: false, status: 401, reason: `credential required (${scope})` };
    return { ok: true, identity: r.identity, access: new Access(r.identity, authorizer) };
  };
}
