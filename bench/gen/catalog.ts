// The world the generator draws from: API resources, namespaces, workloads and the
// identities that talk to a typical production cluster's apiserver.
import type { UserInfo } from "../../src/audit/types.js";
import { type Rng, weighted } from "./rng.js";

export interface ResourceKind {
  group: string; // "" for the core group
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

function r(group: string, version: string, resource: string, kind: string, namespaced = true): ResourceKind {
  return { group, version, resource, kind, namespaced };
}

export const RESOURCES = {
  pods: r("", "v1", "pods", "Pod"),
  configmaps: r("", "v1", "configmaps", "ConfigMap"),
  secrets: r("", "v1", "secrets", "Secret"),
  services: r("", "v1", "services", "Service"),
  endpoints: r("", "v1", "endpoints", "Endpoints"),
  events: r("", "v1", "events", "Event"),
  serviceaccounts: r("", "v1", "serviceaccounts", "ServiceAccount"),
  pvcs: r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
  nodes: r("", "v1", "nodes", "Node", false),
  namespaces: r("", "v1", "namespaces", "Namespace", false),
  deployments: r("apps", "v1", "deployments", "Deployment"),
  replicasets: r("apps", "v1", "replicasets", "ReplicaSet"),
  statefulsets: r("apps", "v1", "statefulsets", "StatefulSet"),
  daemonsets: r("apps", "v1", "daemonsets", "DaemonSet"),
  roles: r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
  rolebindings: r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
  clusterroles: r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  clusterrolebindings: r(
    "rbac.authorization.k8s.io",
    "v1",
    "clusterrolebindings",
    "ClusterRoleBinding",
    false,
  ),
  jobs: r("batch", "v1", "jobs", "Job"),
  cronjobs: r("batch", "v1", "cronjobs", "CronJob"),
  ingresses: r("networking.k8s.io", "v1", "ingresses", "Ingress"),
  networkpolicies: r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
  leases: r("coordination.k8s.io", "v1", "leases", "Lease"),
  endpointslices: r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
} as const satisfies Record<string, ResourceKind>;
export type ResourceName = keyof typeof RESOURCES;

export const APP_NAMESPACES = [
  "default",
  "payments",
  "checkout",
  "search",
  "web",
  "data-pipeline",
  "ml-serving",
  "monitoring",
  "ingress-nginx",
  "cert-manager",
  "argocd",
] as const;

/** Namespaces weighted as traffic lands on them; kube-system is the busiest in real clusters. */
export const pickNamespace = weighted<string>([
  ["kube-system", 22],
  ["kube-node-lease", 2],
  ["kube-public", 1],
  ["default", 6],
  ["payments", 9],
  ["checkout", 8],
  ["search", 7],
  ["web", 10],
  ["data-pipeline", 6],
  ["ml-serving", 4],
  ["monitoring", 10],
  ["ingress-nginx", 5],
  ["cert-manager", 4],
  ["argocd", 6],
]);

const APPS = [
  "api",
  "frontend",
  "worker",
  "redis",
  "postgres",
  "gateway",
  "indexer",
  "scheduler",
  "exporter",
];

export function workloadName(rng: Rng): string {
  return rng.pick(APPS);
}

/** A pod name as a Deployment's ReplicaSet names it: app-<10 chars>-<5 chars>. */
export function podName(rng: Rng): string {
  return `${rng.pick(APPS)}-${rng.alnum(10)}-${rng.alnum(5)}`;
}

export const NODE_COUNT = 48;
export function nodeName(i: number): string {
  return `ip-10-0-${(i >> 4) + 1}-${(i & 15) * 13 + 7}.eu-west-1.compute.internal`;
}

export type ActorClass =
  "kubelet" | "controller" | "scheduler" | "system" | "serviceaccount" | "human" | "anonymous";

export interface Actor {
  cls: ActorClass;
  user: UserInfo;
  userAgent: string;
  sourceIP: string;
}

const K8S = "v1.31.2 (linux/amd64) kubernetes/5864a46";

const CONTROLLER_SAS = [
  "replicaset-controller",
  "deployment-controller",
  "endpointslice-controller",
  "job-controller",
  "cronjob-controller",
  "namespace-controller",
  "node-controller",
  "generic-garbage-collector",
  "daemon-set-controller",
  "statefulset-controller",
];

const WORKLOAD_SAS: readonly (readonly [string, string, string])[] = [
  [
    "argocd",
    "argocd-application-controller",
    "argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format",
  ],
  ["cert-manager", "cert-manager", "cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/2f5e3a"],
  ["monitoring", "prometheus-k8s", "Prometheus/2.54.1"],
  ["monitoring", "kube-state-metrics", "kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/$Format"],
  [
    "ingress-nginx",
    "ingress-nginx",
    "nginx-ingress-controller/v1.11.2 (linux/amd64) ingress-nginx/46e76e5916",
  ],
  ["kube-system", "coredns", "coredns/v1.11.3 (linux/amd64) kubernetes/$Format"],
  ["kube-system", "cluster-autoscaler", "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/$Format"],
  ["payments", "payments-api", "Go-http-client/2.0"],
  ["data-pipeline", "spark-operator", "spark-operator/v2.0.2 (linux/amd64) kubernetes/$Format"],
  ["ml-serving", "default", "python-requests/2.32.3"],
];

const HUMANS: readonly (readonly [string, string[]])[] = [
  ["alice@example.com", ["oidc:platform-admins"]],
  ["bob@example.com", ["oidc:developers"]],
  ["carol@example.com", ["oidc:developers", "oidc:payments-team"]],
  ["dave@example.com", ["oidc:sre"]],
  ["erin@example.com", ["oidc:developers"]],
  ["frank@contractor.example.net", ["oidc:contractors"]],
  ["ci-deployer@example.com", ["oidc:ci"]],
];

const HUMAN_AGENTS = [
  "kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5",
  "kubectl/v1.30.4 (linux/amd64) kubernetes/a51b3b7",
  "k9s/v0.32.5 (darwin/arm64) kubernetes/$Format",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Lens/2024.9.300059",
];

/** Which identity sends the next request: system components dominate real audit logs. */
export const pickActorClass = weighted<ActorClass>([
  ["kubelet", 34],
  ["controller", 24],
  ["scheduler", 5],
  ["system", 5],
  ["serviceaccount", 27],
  ["human", 4],
  ["anonymous", 1],
]);

const AUTH = "system:authenticated";

export function makeActor(rng: Rng, cls: ActorClass): Actor {
  switch (cls) {
    case "kubelet": {
      const i = rng.int(NODE_COUNT);
      return {
        cls,
        user: { username: `system:node:${nodeName(i)}`, groups: ["system:nodes", AUTH] },
        userAgent: `kubelet/${K8S}`,
        sourceIP: `10.0.${(i >> 4) + 1}.${(i & 15) * 13 + 7}`,
      };
    }
    case "controller": {
      if (rng.chance(0.3)) {
        return {
          cls,
          user: { username: "system:kube-controller-manager", groups: [AUTH] },
          userAgent: `kube-controller-manager/${K8S}/leader-election`,
          sourceIP: "10.0.0.10",
        };
      }
      const sa = rng.pick(CONTROLLER_SAS);
      return {
        cls,
        user: saUser("kube-system", sa, rng),
        userAgent: `kube-controller-manager/${K8S}/system:serviceaccount:kube-system:${sa}`,
        sourceIP: "10.0.0.10",
      };
    }
    case "scheduler":
      return {
        cls,
        user: { username: "system:kube-scheduler", groups: [AUTH] },
        userAgent: `kube-scheduler/${K8S}/scheduler`,
        sourceIP: "10.0.0.10",
      };
    case "system":
      return rng.chance(0.5)
        ? {
            cls,
            user: {
              username: "system:apiserver",
              uid: "3c1d4e2a-6f1b-4a5e-9d2c-1b7f8e9a0c3d",
              groups: ["system:masters"],
            },
            userAgent: `kube-apiserver/${K8S}`,
            sourceIP: "::1",
          }
        : {
            cls,
            user: { username: "system:kube-proxy", groups: [AUTH] },
            userAgent: `kube-proxy/${K8S}`,
            sourceIP: `10.0.${rng.range(1, 3)}.${rng.range(7, 202)}`,
          };
    case "serviceaccount": {
      const [ns, name, ua] = rng.pick(WORKLOAD_SAS);
      return {
        cls,
        user: saUser(ns, name, rng),
        userAgent: ua,
        sourceIP: `10.244.${rng.range(0, 47)}.${rng.range(2, 250)}`,
      };
    }
    case "human": {
      const [email, groups] = rng.pick(HUMANS);
      return {
        cls,
        user: { username: `oidc:${email}`, groups: [...groups, AUTH] },
        userAgent: rng.pick(HUMAN_AGENTS),
        sourceIP: rng.chance(0.7) ? `203.0.113.${rng.range(1, 254)}` : `198.51.100.${rng.range(1, 254)}`,
      };
    }
    case "anonymous":
      return {
        cls,
        user: { username: "system:anonymous", groups: ["system:unauthenticated"] },
        userAgent: rng.chance(0.5) ? "curl/8.5.0" : "python-requests/2.31.0",
        sourceIP: `192.0.2.${rng.range(1, 254)}`,
      };
  }
}

function saUser(ns: string, name: string, rng: Rng): UserInfo {
  const pod = `${name}-${rng.alnum(10)}-${rng.alnum(5)}`;
  return {
    username: `system:serviceaccount:${ns}:${name}`,
    uid: stableUid(`${ns}/${name}`),
    groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, AUTH],
    extra: {
      "authentication.kubernetes.io/pod-name": [pod],
      "authentication.kubernetes.io/pod-uid": [stableUid(pod)],
    },
  };
}

/** A UUID-shaped id derived from a name, so the same account keeps the same uid across events. */
export function stableUid(name: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    h1 = Math.imul(h1 ^ name.charCodeAt(i), 16777619) >>> 0;
    h2 = Math.imul(h2 ^ name.charCodeAt(i), 2246822519) >>> 0;
  }
  const h = (h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")).repeat(2);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
