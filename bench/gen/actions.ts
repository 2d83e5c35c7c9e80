// What each kind of identity does, weighted the way real apiserver audit logs look:
// leases and status updates from the control plane dominate, humans read far more than they write.
import type { ActorClass, ResourceName } from "./catalog.js";
import { type Rng, weighted } from "./rng.js";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

export interface Action {
  verb: Verb;
  res: ResourceName;
  sub?: string;
  /** Fixed namespace; otherwise one is drawn. */
  ns?: string;
  /** Collection across all namespaces (list/watch). */
  all?: boolean;
  /** Name is the actor's own node / lease rather than a drawn object. */
  own?: boolean;
}

/** A non-resource request such as GET /healthz: no objectRef. */
export interface NonResource {
  path: string;
}

type Table = (rng: Rng) => Action | NonResource;

function table(rows: readonly (readonly [Action | NonResource, number])[]): Table {
  return weighted(rows);
}

const a = (verb: Verb, res: ResourceName, extra: Partial<Action> = {}): Action => ({ verb, res, ...extra });

export const ACTIONS: Record<ActorClass, Table> = {
  kubelet: table([
    [a("update", "leases", { ns: "kube-node-lease", own: true }), 25],
    [a("patch", "nodes", { sub: "status", own: true }), 6],
    [a("get", "nodes", { own: true }), 6],
    [a("get", "pods"), 10],
    [a("patch", "pods", { sub: "status" }), 10],
    [a("watch", "pods", { all: true }), 2],
    [a("watch", "configmaps"), 2],
    [a("watch", "secrets"), 1],
    [a("watch", "nodes", { all: true }), 1],
    [a("get", "secrets"), 4],
    [a("get", "configmaps"), 6],
    [a("create", "serviceaccounts", { sub: "token" }), 4],
    [a("create", "events"), 5],
    [a("list", "pods", { all: true }), 1],
  ]),
  controller: table([
    [a("update", "leases", { ns: "kube-system", own: true }), 15],
    [a("get", "leases", { ns: "kube-system", own: true }), 8],
    [a("update", "replicasets", { sub: "status" }), 6],
    [a("update", "deployments", { sub: "status" }), 5],
    [a("create", "pods"), 4],
    [a("delete", "pods"), 3],
    [a("update", "endpointslices"), 8],
    [a("update", "endpoints"), 3],
    [a("create", "events"), 8],
    [a("patch", "events"), 2],
    [a("watch", "pods", { all: true }), 2],
    [a("list", "replicasets", { all: true }), 1],
    [a("watch", "deployments", { all: true }), 1],
    [a("watch", "jobs", { all: true }), 1],
    [a("get", "namespaces"), 2],
    [a("update", "jobs", { sub: "status" }), 2],
    [a("create", "jobs"), 1],
    [a("delete", "jobs"), 0.5],
    [a("get", "replicasets"), 4],
    [a("patch", "nodes", { sub: "status" }), 1],
  ]),
  scheduler: table([
    [a("create", "pods", { sub: "binding" }), 35],
    [a("update", "leases", { ns: "kube-system", own: true }), 30],
    [a("watch", "pods", { all: true }), 5],
    [a("watch", "nodes", { all: true }), 5],
    [a("list", "pvcs", { all: true }), 3],
    [a("create", "events"), 20],
    [a("get", "leases", { ns: "kube-system", own: true }), 2],
  ]),
  system: table([
    [a("get", "endpointslices", { all: true }), 10],
    [a("list", "endpointslices", { all: true }), 5],
    [a("watch", "services", { all: true }), 5],
    [a("update", "leases", { ns: "kube-system", own: true }), 20],
    [a("get", "namespaces"), 10],
    [a("get", "services"), 10],
    [a("update", "endpoints"), 5],
  ]),
  serviceaccount: table([
    [a("get", "configmaps"), 15],
    [a("list", "pods"), 8],
    [a("watch", "pods", { all: true }), 3],
    [a("get", "secrets"), 10],
    [a("list", "secrets"), 3],
    [a("update", "leases", { own: true }), 15],
    [a("patch", "deployments"), 5],
    [a("update", "configmaps"), 3],
    [a("create", "events"), 6],
    [a("get", "deployments"), 5],
    [a("list", "nodes", { all: true }), 3],
    [a("list", "namespaces", { all: true }), 2],
    [a("create", "secrets"), 2],
    [a("update", "ingresses", { sub: "status" }), 2],
    [a("get", "ingresses"), 2],
    [a("create", "jobs"), 1],
    [a("delete", "jobs"), 1],
    [a("list", "endpointslices"), 3],
    [a("get", "statefulsets"), 2],
    [a("list", "networkpolicies"), 1],
  ]),
  human: table([
    [a("get", "pods"), 15],
    [a("list", "pods"), 20],
    [a("watch", "pods"), 3],
    [a("get", "deployments"), 8],
    [a("list", "deployments"), 6],
    [a("patch", "deployments"), 6],
    [a("get", "pods", { sub: "log" }), 6],
    [a("create", "pods", { sub: "exec" }), 5],
    [a("create", "pods", { sub: "portforward" }), 1],
    [a("delete", "pods"), 4],
    [a("get", "secrets"), 4],
    [a("list", "secrets"), 2],
    [a("get", "configmaps"), 5],
    [a("update", "configmaps"), 2],
    [a("create", "rolebindings"), 1],
    [a("create", "clusterrolebindings"), 0.3],
    [a("patch", "clusterroles"), 0.2],
    [a("create", "namespaces"), 0.3],
    [a("delete", "namespaces"), 0.3],
    [a("list", "nodes", { all: true }), 3],
    [a("create", "deployments"), 1],
    [a("delete", "deployments"), 1],
    [a("delete", "secrets"), 0.5],
    [a("list", "events"), 5],
    [a("create", "cronjobs"), 0.4],
    [a("create", "networkpolicies"), 0.3],
  ]),
  anonymous: table([
    [{ path: "/healthz" }, 30],
    [{ path: "/readyz" }, 20],
    [{ path: "/version" }, 20],
    [{ path: "/api" }, 5],
    [a("get", "secrets"), 3],
    [a("list", "pods", { all: true }), 2],
  ]),
};

/** How often each identity is refused (403): humans and workloads probe, the control plane rarely. */
export const FORBID_RATE: Record<ActorClass, number> = {
  kubelet: 0.002,
  controller: 0,
  scheduler: 0,
  system: 0,
  serviceaccount: 0.02,
  human: 0.08,
  anonymous: 1,
};
