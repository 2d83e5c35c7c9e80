// Asking the kube-apiserver who a token belongs to (TokenReview) and whether an identity may
// read audit events in a namespace (SubjectAccessReview on the virtual resource
// auditevents.kubetrail.dev), so that the cluster's own authentication and RBAC decide.
// Answers are cached (by token digest, never the token) for a short, bounded time, and at most
// a few reviews run at once so a flood of random tokens cannot flood the apiserver.
import { ClientError } from "../../client/errors.js";
import type { JsonClient } from "../../http/json-client.js";
import { TtlCache } from "./cache.js";
import { tokenDigest } from "./credentials.js";
import { AUDIT_RESOURCE, type AuditVerb, type Authorizer, type Decision, type Identity } from "./identity.js";
import { ServerError } from "../route.js";

export interface KubeReviewOptions {
  /** A client for the apiserver with kubetrail's own credentials; called per review (tokens rotate). */
  client: () => Promise<JsonClient>;
  /** How long an allowed decision or an accepted token is reused. */
  ttlMs?: number;
  /** How long a refusal is reused (shorter: a new RoleBinding should take effect soon). */
  deniedTtlMs?: number;
  maxEntries?: number;
  /** Reviews in flight at once; beyond it requests wait, and beyond `maxQueued` they fail. */
  concurrency?: number;
  maxQueued?: number;
}

export type TokenReviewResult =
  { authenticated: true; identity: Identity } | { authenticated: false; reason: string };

/** The apiserver could not be asked: the request fails with 503, nothing is cached. */
export class KubeUnavailableError extends ServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("kube-unavailable", message, options);
  }
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** A counting semaphore with a bounded queue. */
class Limiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.queue.length >= this.maxQueued)
        throw new KubeUnavailableError("too many Kubernetes reviews waiting; try again shortly");
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}

export class KubeReviewer implements Authorizer {
  private readonly tokens: TtlCache<TokenReviewResult>;
  private readonly decisions: TtlCache<Decision>;
  private readonly limiter: Limiter;
  private readonly ttl: number;
  private readonly deniedTtl: number;

  constructor(private readonly opts: KubeReviewOptions) {
    const max = opts.maxEntries ?? 10_000;
    this.tokens = new TtlCache(max);
    this.decisions = new TtlCache(max);
    this.limiter = new Limiter(opts.concurrency ?? 8, opts.maxQueued ?? 512);
    this.ttl = opts.ttlMs ?? 60_000;
    this.deniedTtl = Math.min(opts.deniedTtlMs ?? 10_000, this.ttl);
  }

  /** Cached entries (tokens, decisions), for metrics and tests. */
  cacheSize(): { tokens: number; decisions: number } {
    return { tokens: this.tokens.size, decisions: this.decisions.size };
  }

  private async post(path: string, body: unknown, what: string): Promise<Record<string, unknown>> {
    return this.limiter.run(async () => {
      const client = await this.opts.client();
      try {
        return record(await client.post(path, body));
      } catch (err) {
        const why = err instanceof ClientError ? err.message : (err as Error).message;
        throw new KubeUnavailableError(`cannot ${what} with the Kubernetes API: ${why}`, { cause: err });
      } finally {
        client.close();
      }
    });
  }

  /** Who the token belongs to, as the apiserver's authenticators say. */
  reviewToken(token: string): Promise<TokenReviewResult> {
    return this.tokens.get(
      tokenDigest(token),
      async () => {
        const answer = await this.post(
          "apis/authentication.k8s.io/v1/tokenreviews",
          { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
          "check a token",
        );
        const status = record(answer["status"]);
        const user = record(status["user"]);
        if (status["authenticated"] !== true || typeof user["username"] !== "string") {
          const error =
            typeof status["error"] === "string" && status["error"] !== ""
              ? status["error"]
              : "not authenticated";
          return { authenticated: false, reason: error };
        }
        const extra: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(record(user["extra"]))) extra[k] = strings(v);
        const identity: Identity = {
          user: user["username"],
          groups: strings(user["groups"]),
          ...(typeof user["uid"] === "string" && user["uid"] !== "" ? { uid: user["uid"] } : {}),
          ...(Object.keys(extra).length > 0 ? { extra } : {}),
          method: "kube-token",
        };
        return { authenticated: true, identity };
      },
      (r) => (r.authenticated ? this.ttl : this.deniedTtl),
    );
  }

  /** RBAC's answer for `identity` doing `verb` on auditevents.kubetrail.dev in `namespace`. */
  decide(identity: Identity, verb: AuditVerb, namespace: string): Promise<Decision> {
    const key = JSON.stringify([
      identity.user,
      [...identity.groups].sort(),
      identity.uid ?? "",
      identity.extra ?? {},
      verb,
      namespace,
    ]);
    return this.decisions.get(
      key,
      async () => {
        const answer = await this.post(
          "apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: {
              user: identity.user,
              groups: identity.groups,
              ...(identity.uid === undefined ? {} : { uid: identity.uid }),
              ...(identity.extra === undefined ? {} : { extra: identity.extra }),
              resourceAttributes: { ...AUDIT_RESOURCE, verb, ...(namespace === "" ? {} : { namespace }) },
            },
          },
          "check a permission",
        );
        const status = record(answer["status"]);
        const reason =
          typeof status["reason"] === "string" && status["reason"] !== "" ? status["reason"] : undefined;
        return {
          allowed: status["allowed"] === true && status["denied"] !== true,
          ...(reason ? { reason } : {}),
        };
      },
      (d) => (d.allowed ? this.ttl : this.deniedTtl),
    );
  }
}
