// The contract between the HTTP server core and the modules that serve endpoints.
// Each module exports a function returning its Route[]; the server mounts them,
// authenticates by scope before calling handle, and turns thrown HttpErrors into replies.
import type { IncomingMessage, ServerResponse } from "node:http";
import { CodedError } from "../errors.js";
import type { Access } from "./auth/access.js";
import type { Identity } from "./auth/identity.js";

/**
 * Who may call a route. "public": anyone (health, checkpoint and hash tiles, UI shell);
 * "ingest": the apiserver's webhook credential (client cert or ingest token);
 * "read": a read credential (query, proofs, evidence, entry bundles): kubetrail's own read
 * tokens and certificates read the whole log, a Kubernetes identity what RBAC lets it (Access);
 * "admission": the admission webhook client; "metrics": public unless --metrics-auth
 * requires a read credential or a metrics token.
 */
export type AuthScope = "public" | "ingest" | "read" | "admission" | "metrics";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Values of `:name` segments in the route pattern. */
  params: Record<string, string>;
  /** Who passed the route's scope chain (system:anonymous on public routes). */
  identity: Identity;
  /** What that identity may read: read routes ask it before touching the index. */
  access: Access;
}

export interface Route {
  method: "GET" | "POST" | "HEAD";
  /** Path pattern: literal segments, `:name` for one segment, a trailing `*` for the rest. */
  pattern: string;
  scope: AuthScope;
  handle(ctx: RouteContext): Promise<void>;
}

/**
 * The server's errors: "config" (a setting that cannot be used, ConfigError), "http" (a
 * handler's clean 4xx/5xx reply, HttpError) and "kube-unavailable" (the apiserver could not be
 * asked to review a credential, KubeUnavailableError).
 */
export class ServerError extends CodedError<"config" | "http" | "kube-unavailable"> {}

/** Thrown by handlers for a clean 4xx/5xx reply with a reason the client can act on. */
export class HttpError extends ServerError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super("http", message, options);
  }
}
