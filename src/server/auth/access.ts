// What one authenticated request may read, asked of the authorizer per namespace: a read
// route calls these before it touches the index, and a refusal names the missing permission.
import { HttpError } from "../route.js";
import { AUDIT_RESOURCE, type AuditVerb, type Authorizer, type Decision, type Identity } from "./identity.js";
import { KubeUnavailableError } from "./kube-review.js";

/** SubjectAccessReviews asked at once when narrowing a listing to the namespaces allowed. */
const FAN_OUT = 16;

function who(identity: Identity): string {
  const groups = identity.groups.filter((g) => g !== "system:authenticated");
  return `user "${identity.user}"${groups.length > 0 ? ` (groups ${groups.join(", ")})` : ""}`;
}

function resource(verb: AuditVerb): string {
  return `verb "${verb}" on resource "${AUDIT_RESOURCE.resource}" in API group "${AUDIT_RESOURCE.group}"`;
}

export class Access {
  constructor(
    readonly identity: Identity,
    private readonly authorizer: Authorizer,
  ) {}

  /** The authorizer's decision; 503 (not 500) when the apiserver could not be asked. */
  private async decide(verb: AuditVerb, namespace: string): Promise<Decision> {
    try {
      return await this.authorizer.decide(this.identity, verb, namespace);
    } catch (err) {
      if (err instanceof KubeUnavailableError) throw new HttpError(503, err.message);
      throw err;
    }
  }

  private refuse(verb: AuditVerb, namespace: string, reason?: string): HttpError {
    const where =
      namespace === ""
        ? "at the cluster scope (all namespaces and cluster-scoped events)"
        : `in namespace "${namespace}"`;
    const grant =
      namespace === ""
        ? "a ClusterRoleBinding to ClusterRole kubetrail-reader"
        : `a RoleBinding in "${namespace}" to ClusterRole kubetrail-namespace-reader`;
    return new HttpError(
      403,
      `${who(this.identity)} may not ${verb} ${AUDIT_RESOURCE.resource}.${AUDIT_RESOURCE.group} ${where}: ` +
        `needs ${resource(verb)}${namespace === "" ? " cluster-wide" : " there"} (e.g. ${grant})` +
        (reason ? `; authorizer: ${reason}` : ""),
    );
  }

  /** Throws 403 unless the identity may `verb` events of `namespace` (null: a cluster-scoped event). */
  async check(verb: AuditVerb, namespace: string | null): Promise<void> {
    const ns = namespace ?? "";
    const d = await this.decide(verb, ns);
    if (!d.allowed) throw this.refuse(verb, ns, d.reason);
  }

  /** Throws 403 unless the identity may read the whole log (entry bundles, records of no namespace). */
  fullLog(verb: AuditVerb = "list"): Promise<void> {
    return this.check(verb, null);
  }

  /**
   * The namespaces a listing may cover: undefined when the identity may read at the cluster
   * scope (everything), else the allowed ones among `wanted` (each must be allowed) or, when no
   * namespace was asked for, among the namespaces the log knows. 403 when none is allowed.
   */
  async namespaces(
    verb: AuditVerb,
    wanted: readonly string[],
    known: () => readonly string[],
  ): Promise<readonly string[] | undefined> {
    if (wanted.length > 0) {
      for (const ns of wanted) await this.check(verb, ns);
      return undefined;
    }
    const cluster = await this.decide(verb, "");
    if (cluster.allowed) return undefined;
    const candidates = known();
    const allowed: string[] = [];
    for (let i = 0; i < candidates.length; i += FAN_OUT) {
      const batch = candidates.slice(i, i + FAN_OUT);
      const decisions = await Promise.all(batch.map((ns) => this.decide(verb, ns)));
      batch.forEach((ns, j) => decisions[j]?.allowed && allowed.push(ns));
    }
    if (allowed.length === 0) {
      throw new HttpError(
        403,
        `${who(this.identity)} may not ${verb} ${AUDIT_RESOURCE.resource}.${AUDIT_RESOURCE.group} at the cluster scope ` +
          `nor in any namespace the log holds: needs ${resource(verb)} cluster-wide or in a namespace ` +
          "(ClusterRole kubetrail-reader, or kubetrail-namespace-reader bound in a namespace)",
      );
    }
    return allowed;
  }
}
