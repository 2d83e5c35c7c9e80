// Who is asking, once a credential has been checked, and what they may read. Authentication
// (a chain of authenticators, see chain.ts) produces an Identity; authorization (an Authorizer)
// decides per namespace, and an Access carries both into the route that needs them.

/** How the credential was checked. */
export type AuthMethod =
  | "anonymous"
  | "ingest-token"
  | "ingest-cert"
  | "read-token"
  | "read-cert"
  | "metrics-token"
  | "kube-token"
  | "kube-cert"
  | (string & Record<never, never>);

export interface Identity {
  user: string;
  groups: readonly string[];
  uid?: string;
  /** Extra attributes a Kubernetes authenticator returned (passed on to SubjectAccessReview). */
  extra?: Readonly<Record<string, readonly string[]>>;
  method: AuthMethod;
}

/** The Kubernetes-style verbs on audit events: read one entry, or list/query/count them. */
export type AuditVerb = "get" | "list";

export interface Decision {
  allowed: boolean;
  /** Why, when the authorizer said (RBAC's reason, or an error reaching it). */
  reason?: string;
}

/** Decides whether an identity may `verb` audit events in `namespace` ("" is the cluster scope). */
export interface Authorizer {
  decide(identity: Identity, verb: AuditVerb, namespace: string): Promise<Decision>;
}

/** kubetrail's own read credentials (tokens, --read-client-ca certificates) read the whole log; nothing else does. */
export const ownCredentialsOnly: Authorizer = {
  async decide(identity) {
    return identity.method === "read-token" || identity.method === "read-cert"
      ? { allowed: true }
      : { allowed: false, reason: "no authorizer for this kind of identity is configured" };
  },
};

/** The virtual resource RBAC grants: `auditevents` in API group `kubetrail.dev`, namespaced. */
export const AUDIT_RESOURCE = { group: "kubetrail.dev", resource: "auditevents" } as const;
