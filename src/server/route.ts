// The contract between the HTTP server core and the modules that serve endpoints.
// Each module exports a function returning its Route[]; the server mounts them,
// authenticates by scope before calling handle, and turns thrown HttpErrors into replies.
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Who may call a route. "public": anyone (health, checkpoint and hash tiles, UI shell);
 * "ingest": the apiserver's webhook credential (client cert or ingest token);
 * "read": a full-log read credential (query, proofs, evidence, entry bundles);
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
}

export interface Route {
  method: "GET" | "POST" | "HEAD";
  /** Path pattern: literal segments, `:name` for one segment, a trailing `*` for the rest. */
  pattern: string;
  scope: AuthScope;
  handle(ctx: RouteContext): Promise<void>;
}

/** Thrown by handlers for a clean 4xx/5xx reply with a reason the client can act on. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}
