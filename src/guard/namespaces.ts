// What guard knows of each Namespace (name, labels, annotations), for namespaceObject and
// namespace selectors: a webhook is not sent the namespace of the object it judges. Learnt
// from the admission requests on namespaces themselves and from the audit events of
// namespaces that carry a body, in log order. Unknown namespaces get only the label
// Kubernetes puts on every namespace, kubernetes.io/metadata.name.
import { isRecord } from "../json/record.js";
import type { AdmissionRequest } from "./types.js";

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export const NAME_LABEL = "kubernetes.io/metadata.name";

/** Bound on remembered namespaces; beyond it the least recently changed are forgotten. */
const MAX_NAMESPACES = 100_000;

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) if (typeof s === "string") out[k] = s;
  return out;
}

/** The Namespace object `value` describes, if it is one. */
export function namespaceInfo(value: unknown): NamespaceInfo | undefined {
  if (!isRecord(value) || value["kind"] !== "Namespace") return undefined;
  const meta = isRecord(value["metadata"]) ? value["metadata"] : {};
  const name = meta["name"];
  if (typeof name !== "string" || name === "") return undefined;
  return { name, labels: stringMap(meta["labels"]), annotations: stringMap(meta["annotations"]) };
}

export class NamespaceCache {
  private readonly known = new Map<string, NamespaceInfo>();
  /** Bumped on every change, so a saver knows when there is something to write. */
  generation = 0;

  constructor(initial: readonly NamespaceInfo[] = []) {
    for (const ns of initial) this.known.set(ns.name, ns);
  }

  get size(): number {
    return this.known.size;
  }

  has(name: string): boolean {
    return this.known.has(name);
  }

  /** namespaceObject for a request in `name`; null for cluster-scoped requests. */
  object(name: string): Record<string, unknown> | null {
    if (name === "") return null;
    const ns = this.known.get(name);
    return {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name,
        labels: { ...(ns?.labels ?? {}), [NAME_LABEL]: name },
        ...(ns && Object.keys(ns.annotations).length > 0 ? { annotations: ns.annotations } : {}),
      },
    };
  }

  set(ns: NamespaceInfo): void {
    this.known.delete(ns.name);
    this.known.set(ns.name, ns);
    if (this.known.size > MAX_NAMESPACES) this.known.delete(this.known.keys().next().value as string);
    this.generation++;
  }

  delete(name: string): void {
    if (this.known.delete(name)) this.generation++;
  }

  /** An admitted request on a Namespace: remember what it will look like. */
  observeAdmission(r: AdmissionRequest, allowed: boolean): void {
    if (!allowed || r.resource.group !== "" || r.resource.resource !== "namespaces" || r.subResource !== "")
      return;
    if (r.operation === "DELETE") return; // deletion only starts; the namespace lingers while Terminating
    const ns = namespaceInfo(r.object);
    if (ns) this.set(ns);
  }

  /**
   * A stored audit event. A successful write on a namespace with its body (the response at
   * RequestResponse level, else the request of a create or update) updates what is known; a
   * completed delete forgets it.
   */
  observeAuditEvent(e: unknown): void {
    if (!isRecord(e) || e["stage"] !== "ResponseComplete") return;
    const ref = isRecord(e["objectRef"]) ? e["objectRef"] : {};
    if (ref["resource"] !== "namespaces" || (ref["apiGroup"] ?? "") !== "" || ref["subresource"]) return;
    const status = isRecord(e["responseStatus"]) ? e["responseStatus"] : {};
    const code = typeof status["code"] === "number" ? status["code"] : 0;
    if (code < 200 || code > 299) return;
    const verb = e["verb"];
    const body =
      namespaceInfo(e["responseObject"]) ??
      (verb === "create" || verb === "update" ? namespaceInfo(e["requestObject"]) : undefined);
    if (verb === "delete" && typeof ref["name"] === "string" && body === undefined) {
      this.delete(ref["name"]);
      return;
    }
    if (body) this.set(body);
  }

  snapshot(): NamespaceInfo[] {
    return [...this.known.values()];
  }
}
