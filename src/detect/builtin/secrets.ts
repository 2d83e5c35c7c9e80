// Built-in rules about reading Secrets and about denied requests, including the windowed ones.
import type { AuditEvent } from "../../audit/types.js";
import type { Rule } from "../types.js";
import { resourceIs, serviceAccountNamespace, succeeded, username } from "./facts.js";

const READ_VERBS = new Set(["get", "list", "watch"]);

function secretRead(e: AuditEvent): boolean {
  return resourceIs(e, "secrets") && READ_VERBS.has(e.verb) && succeeded(e);
}

const byUser = (e: AuditEvent): string | undefined => e.user?.username || undefined;

export const DEFAULT_SECRET_BURST = { threshold: 10, windowMs: 60_000 };
export const DEFAULT_FORBIDDEN_BURST = { threshold: 20, windowMs: 60_000 };

export const secretRules: Rule[] = [
  {
    id: "secrets-cross-namespace",
    resources: new Set(["secrets"]),
    verbs: READ_VERBS,
    title: "Secrets read across namespaces",
    severity: "high",
    description:
      "Secrets were listed or watched in all namespaces at once, or a service account read Secrets outside its own namespace.",
    source: "builtin",
    match(e) {
      if (!secretRead(e)) return false;
      const ns = e.objectRef?.namespace;
      if (!ns) return e.verb !== "get";
      const own = serviceAccountNamespace(username(e));
      return own !== undefined && own !== ns;
    },
  },
  {
    id: "secrets-bulk-read",
    resources: new Set(["secrets"]),
    verbs: READ_VERBS,
    title: "Many Secrets read by one user",
    severity: "high",
    description: "One user read many Secrets within a short window.",
    source: "builtin",
    match: secretRead,
    window: { by: "user.username", keyOf: byUser, ...DEFAULT_SECRET_BURST },
  },
  {
    id: "forbidden-burst",
    title: "Burst of forbidden requests",
    severity: "medium",
    description: "One user or service account was refused (403) many times within a short window.",
    source: "builtin",
    needs: (d) => d.code === 403,
    match: (e) => e.responseStatus?.code === 403,
    window: { by: "user.username", keyOf: byUser, ...DEFAULT_FORBIDDEN_BURST },
  },
];
