// /healthz (the process serves), /readyz (the log is open and recovered, not shutting down),
// /metrics (Prometheus text format; a credential when --metrics-auth requires one).
import type { Registry } from "prom-client";
import type { Route } from "../route.js";
import { jsonReply } from "../server.js";

export function healthRoutes(deps: { ready: () => boolean; registry: Registry }): Route[] {
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
        if (deps.ready()) jsonReply(res, 200, { status: "ready" });
        else jsonReply(res, 503, { status: "not ready" });
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
