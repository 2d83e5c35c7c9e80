// Where the pod lives in each workload kind, with the field path to it, so every built-in pod
// check covers Pods and the templates of Deployments, StatefulSets, DaemonSets, Jobs,
// CronJobs, ReplicaSets, ReplicationControllers and PodTemplates alike. The containers and
// security contexts every check reads are found once per template, here, so a review that
// runs a dozen controls over a pod walks its spec once.
import { isRecord } from "../../json/record.js";

export interface PodTemplate {
  /** Path of the pod's metadata, e.g. "spec.template.metadata". */
  metadataPath: string;
  /** Path of the pod's spec, e.g. "spec.template.spec". */
  specPath: string;
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
  /** The pod's securityContext, when it is an object. */
  securityContext: Record<string, unknown> | undefined;
  /** Every container of the pod, in spec order (containers, initContainers, ephemeralContainers). */
  containers: readonly ContainerRef[];
}

export interface ContainerRef {
  /** e.g. spec.template.spec.initContainers[1] */
  path: string;
  name: string;
  container: Record<string, unknown>;
  /** The container's securityContext, when it is an object. */
  securityContext: Record<string, unknown> | undefined;
}

/** Kind → path of the pod template's parent ("" for a Pod itself). */
const TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  ReplicationController: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
  PodTemplate: ["template"],
};

export const POD_KINDS: readonly string[] = Object.keys(TEMPLATE_PATHS);

/** The pod (template) inside `object` of `kind`, or undefined when the kind has none or it is missing. */
export function podTemplateOf(kind: string, object: unknown): PodTemplate | undefined {
  const path = TEMPLATE_PATHS[kind];
  if (path === undefined) return undefined;
  let node: unknown = object;
  for (const key of path) node = isRecord(node) ? node[key] : undefined;
  if (!isRecord(node)) return undefined;
  const spec = node["spec"];
  if (!isRecord(spec)) return undefined;
  const prefix = path.length === 0 ? "" : `${path.join(".")}.`;
  const metadata = node["metadata"];
  const specPath = `${prefix}spec`;
  return {
    metadataPath: `${prefix}metadata`,
    specPath,
    metadata: isRecord(metadata) ? metadata : {},
    spec,
    securityContext: recordOrUndefined(spec["securityContext"]),
    containers: containersOf(spec, specPath),
  };
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

function containersOf(spec: Record<string, unknown>, specPath: string): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of CONTAINER_LISTS) {
    const items = spec[list];
    if (!Array.isArray(items)) continue;
    for (let i = 0; i < items.length; i++) {
      const c: unknown = items[i];
      if (!isRecord(c)) continue;
      out.push({
        path: `${specPath}.${list}[${i}]`,
        name: typeof c["name"] === "string" ? c["name"] : `#${i}`,
        container: c,
        securityContext: recordOrUndefined(c["securityContext"]),
      });
    }
  }
  return out;
}

function recordOrUndefined(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

/** obj[a][b], or undefined at the first missing or non-object step. */
export function getPath(obj: unknown, a: string, b: string): unknown {
  if (!isRecord(obj)) return undefined;
  const node = obj[a];
  return isRecord(node) ? node[b] : undefined;
}
