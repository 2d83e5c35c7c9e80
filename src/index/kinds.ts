// kubectl-style KIND/NAME for `kubetrail history`: kinds, short names and plurals mapped to
// the resource and API group that audit events record in objectRef.
import { IndexError } from "./errors.js";
import type { ResourceSpec } from "./query.js";

/**
 * [resource, apiGroup, ...other spellings (singular, kubectl's short names, and a few common
 * abbreviations kubectl lacks: crb, cr, rb)]. Cluster-scoped resources are listed in CLUSTER_SCOPED.
 */
const KNOWN: readonly (readonly string[])[] = [
  ["pods", "", "pod", "po"],
  ["services", "", "service", "svc"],
  ["configmaps", "", "configmap", "cm"],
  ["secrets", "", "secret"],
  ["namespaces", "", "namespace", "ns"],
  ["nodes", "", "node", "no"],
  ["serviceaccounts", "", "serviceaccount", "sa"],
  ["persistentvolumeclaims", "", "persistentvolumeclaim", "pvc"],
  ["persistentvolumes", "", "persistentvolume", "pv"],
  ["endpoints", "", "endpoint", "ep"],
  ["events", "", "event", "ev"],
  ["replicationcontrollers", "", "replicationcontroller", "rc"],
  ["limitranges", "", "limitrange", "limits"],
  ["resourcequotas", "", "resourcequota", "quota"],
  ["podtemplates", "", "podtemplate"],
  ["deployments", "apps", "deployment", "deploy"],
  ["statefulsets", "apps", "statefulset", "sts"],
  ["daemonsets", "apps", "daemonset", "ds"],
  ["replicasets", "apps", "replicaset", "rs"],
  ["controllerrevisions", "apps", "controllerrevision"],
  ["jobs", "batch", "job"],
  ["cronjobs", "batch", "cronjob", "cj"],
  ["roles", "rbac.authorization.k8s.io", "role"],
  ["rolebindings", "rbac.authorization.k8s.io", "rolebinding", "rb"],
  ["clusterroles", "rbac.authorization.k8s.io", "clusterrole", "cr"],
  ["clusterrolebindings", "rbac.authorization.k8s.io", "clusterrolebinding", "crb"],
  ["ingresses", "networking.k8s.io", "ingress", "ing"],
  ["ingressclasses", "networking.k8s.io", "ingressclass"],
  ["networkpolicies", "networking.k8s.io", "networkpolicy", "netpol"],
  ["endpointslices", "discovery.k8s.io", "endpointslice"],
  ["poddisruptionbudgets", "policy", "poddisruptionbudget", "pdb"],
  ["horizontalpodautoscalers", "autoscaling", "horizontalpodautoscaler", "hpa"],
  ["customresourcedefinitions", "apiextensions.k8s.io", "customresourcedefinition", "crd", "crds"],
  ["apiservices", "apiregistration.k8s.io", "apiservice"],
  ["validatingwebhookconfigurations", "admissionregistration.k8s.io", "validatingwebhookconfiguration"],
  ["mutatingwebhookconfigurations", "admissionregistration.k8s.io", "mutatingwebhookconfiguration"],
  ["storageclasses", "storage.k8s.io", "storageclass", "sc"],
  ["volumeattachments", "storage.k8s.io", "volumeattachment"],
  ["csidrivers", "storage.k8s.io", "csidriver"],
  ["csinodes", "storage.k8s.io", "csinode"],
  ["certificatesigningrequests", "certificates.k8s.io", "certificatesigningrequest", "csr"],
  ["priorityclasses", "scheduling.k8s.io", "priorityclass", "pc"],
  ["runtimeclasses", "node.k8s.io", "runtimeclass"],
  ["leases", "coordination.k8s.io", "lease"],
];

/** Known resources that live outside namespaces (kubectl's api-resources NAMESPACED=false). */
const CLUSTER_SCOPED = new Set([
  "namespaces",
  "nodes",
  "persistentvolumes",
  "clusterroles",
  "clusterrolebindings",
  "customresourcedefinitions",
  "apiservices",
  "validatingwebhookconfigurations",
  "mutatingwebhookconfigurations",
  "storageclasses",
  "volumeattachments",
  "csidrivers",
  "csinodes",
  "certificatesigningrequests",
  "priorityclasses",
  "runtimeclasses",
  "ingressclasses",
]);

const BY_NAME = new Map<string, ResourceSpec>();
for (const [resource, apiGroup, ...aliases] of KNOWN) {
  for (const name of [resource as string, ...aliases]) {
    BY_NAME.set(name, { resource: resource as string, apiGroup: apiGroup as string });
  }
}

/** Whether objects of a known resource live outside namespaces; unknown ones are taken as namespaced. */
export function isClusterScoped(spec: ResourceSpec): boolean {
  if (!CLUSTER_SCOPED.has(spec.resource)) return false;
  return spec.apiGroup === undefined || spec.apiGroup === BY_NAME.get(spec.resource)?.apiGroup;
}

/** English plural the way Kubernetes derives resource names from kinds (policy → policies). */
function plural(kind: string): string {
  if (/(s|x|z|ch|sh)$/.test(kind)) return `${kind}es`;
  if (/[^aeiou]y$/.test(kind)) return `${kind.slice(0, -1)}ies`;
  return `${kind}s`;
}

/**
 * The resource for a kind as typed on the command line: `deployment`, `deploy`,
 * `deployments.apps`, `Deployment`, or a custom kind (`widget.example.com` → widgets in
 * group example.com). Unknown kinds without a group match the plural in any group.
 */
export function resourceForKind(text: string): ResourceSpec {
  const lower = text.toLowerCase();
  const dot = lower.indexOf(".");
  const kind = dot === -1 ? lower : lower.slice(0, dot);
  // `pods.` (K9s's $RESOURCE_NAME.$RESOURCE_GROUP for the core group) is the core group.
  const groupText = dot === -1 ? undefined : lower.slice(dot + 1);
  const group = groupText === "" ? "core" : groupText;
  if (!/^[a-z][a-z0-9-]*$/.test(kind) || (group !== undefined && !/^[a-z0-9.-]+$/.test(group))) {
    throw new IndexError(
      "bad-filter",
      `kind: "${text}" is not a kind (e.g. deployment, cm, deployments.apps)`,
      "kind",
    );
  }
  const known = BY_NAME.get(kind);
  if (known !== undefined && (group === undefined || group === known.apiGroup)) return known;
  const resource = BY_NAME.get(kind)?.resource ?? (kind.endsWith("s") ? kind : plural(kind));
  return group === undefined ? { resource } : { resource, apiGroup: group === "core" ? "" : group };
}

/** Splits `KIND/NAME`; throws a bad-filter IndexError when either part is missing. */
export function parseKindName(text: string): { resource: ResourceSpec; name: string } {
  const slash = text.indexOf("/");
  if (slash <= 0 || slash === text.length - 1) {
    throw new IndexError(
      "bad-filter",
      `object: "${text}" is not KIND/NAME (e.g. deployment/web, cm/app-config)`,
      "object",
    );
  }
  return { resource: resourceForKind(text.slice(0, slash)), name: text.slice(slash + 1) };
}
