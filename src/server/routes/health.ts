// /healthz (the process serves), /readyz (the log is open and recovered, not shutting down),
// /metrics (Prometheus text format; a credential when --metrics-auth requires one).
import type { Registry } from "prom-client";
import type { Route } from "../route.js";
import { jsonReply } from "../server.js";

/** A part of the server that works below par while ingest goes on (e.g. the index, rebuilding). */
export interface DegradedPart {
  part: string;
  state: string;
  reason?: string;
  [detail: string]: unknown;
}

/**
 * /readyz is 200 while the log takes events, whatever else is degraded: the apiserver's
 * webhook must keep being served. Its body names each degraded part.
 */
export function healthRoutes(deps: {
  ready: () => boolean;
  registry: Registry;
  degraded?: () => DegradedPart[];
}): Route[] {
  return [
    {
      method: "GET",
      pattern: "/healthz",
      scope: "public",
      async handle({ res }) {
        jsonReply(res, 200, { status: "ok" });
      },
    },
    {
      method: "GET",
      pattern: "/readyz",
      scope: "public",
      async handle({ res }) {
        const degraded = deps.degraded?.() ?? [];
        const body = degraded.length > 0 ? { degraded } : {};
        if (deps.ready()) jsonReply(res, 200, { status: "ready", ...body });
        else jsonReply(res, 503, { status: "not ready", ...body });
      },
    },
    {
      method: "GET",
      pattern: "/metrics",
      scope: "metrics",
      async handle({ res }) {
        const text = await deps.registry.metrics();
        res.writeHead(200, { "Content-Type": deps.registry.contentType });
        res.end(text);
      },
    },
  ];
}
