// A manifest as the admission request `kubectl apply` would send for it (a CREATE), so
// offline checks see exactly what the webhook would: same kind, resource, namespace, object.
import { resourceForKind } from "../index/kinds.js";
import { isRecord } from "../json/record.js";
import type { SourceDocument } from "./documents.js";
import type { AdmissionRequest, RequestUser } from "./types.js";

/** Kinds that live outside namespaces (the common ones; other kinds use metadata.namespace). */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "PersistentVolume",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "StorageClass",
  "PriorityClass",
  "IngressClass",
  "RuntimeClass",
  "CSIDriver",
  "CSINode",
  "VolumeAttachment",
  "CertificateSigningRequest",
  "APIService",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "PodSecurityPolicy",
]);

export interface ManifestContext {
  /** Namespace for namespaced objects that name none (kubectl's context namespace). */
  defaultNamespace: string;
  user: RequestUser;
}

export const DEFAULT_MANIFEST_CONTEXT: ManifestContext = {
  defaultNamespace: "default",
  user: { username: "kubetrail-guard-check", groups: ["system:authenticated"] },
};

/** undefined, with the reason, when the document is not a Kubernetes object. */
export function manifestRequest(
  doc: SourceDocument,
  ctx: ManifestContext,
): { request: AdmissionRequest } | { skipped: string } {
  const o = doc.value;
  const apiVersion = o["apiVersion"];
  const kind = o["kind"];
  if (typeof apiVersion !== "string" || apiVersion === "" || typeof kind !== "string" || kind === "")
    return { skipped: "not a Kubernetes object (no apiVersion and kind)" };
  const slash = apiVersion.indexOf("/");
  const group = slash === -1 ? "" : apiVersion.slice(0, slash);
  const version = slash === -1 ? apiVersion : apiVersion.slice(slash + 1);
  let resource: string;
  try {
    resource = resourceForKind(kind).resource;
  } catch {
    return { skipped: `kind ${JSON.stringify(kind)} is not a Kubernetes kind` };
  }
  const meta = isRecord(o["metadata"]) ? o["metadata"] : {};
  const name = typeof meta["name"] === "string" ? meta["name"] : "";
  const namespace = CLUSTER_SCOPED.has(kind)
    ? ""
    : typeof meta["namespace"] === "string" && meta["namespace"] !== ""
      ? meta["namespace"]
      : ctx.defaultNamespace;
  return {
    request: {
      uid: `${doc.file}:${doc.line}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      subResource: "",
      name,
      namespace,
      operation: "CREATE",
      userInfo: ctx.user,
      object: o,
      oldObject: null,
      dryRun: true,
    },
  };
}
