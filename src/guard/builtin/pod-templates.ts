// Where the pod lives in each workload kind, with the field path to it, so every built-in pod
// check covers Pods and the templates of Deployments, StatefulSets, DaemonSets, Jobs,
// CronJobs, ReplicaSets, ReplicationControllers and PodTemplates alike.
import { isRecord } from "../../json/record.js";

export interface PodTemplate {
  /** Path of the pod's metadata, e.g. "spec.template.metadata". */
  metadataPath: string;
  /** Path of the pod's spec, e.g. "spec.template.spec". */
  specPath: string;
  metadata: Record<string, unknown>;
  spec: Record<string, unknown>;
}

export interface ContainerRef {
  /** e.g. spec.template.spec.initContainers[1] */
  path: string;
  name: string;
  container: Record<string, unknown>;
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
  return {
    metadataPath: `${prefix}metadata`,
    specPath: `${prefix}spec`,
    metadata: isRecord(metadata) ? metadata : {},
    spec,
  };
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

/** Every container of the pod, in spec order (containers, initContainers, ephemeralContainers). */
export function containersOf(t: PodTemplate): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of CONTAINER_LISTS) {
    const items = t.spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((c: unknown, i) => {
      if (!isRecord(c)) return;
      out.push({
        path: `${t.specPath}.${list}[${i}]`,
        name: typeof c["name"] === "string" ? c["name"] : `#${i}`,
        container: c,
      });
    });
  }
  return out;
}

/** obj.a.b.c, or undefined at the first missing or non-object step. */
export function getPath(obj: unknown, ...keys: string[]): unknown {
  let node = obj;
  for (const k of keys) {
    if (!isRecord(node)) return undefined;
    node = node[k];
  }
  return node;
}
