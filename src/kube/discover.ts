// Finding kubetrail from a kube context, so `kubectl trail` needs no set-up of its own: the
// ConfigMap the manifests ship (kubetrail/kubetrail-client: server URL, CA, verifier key), or
// else the annotations of the kubetrail Service. Both are read with the user's own kubectl
// credentials; the manifests let every authenticated user read just these two objects.
import { ClientError } from "../client/errors.js";
import type { JsonClient } from "../http/json-client.js";

export const DEFAULT_KUBETRAIL_NAMESPACE = "kubetrail";
export const CLIENT_CONFIGMAP = "kubetrail-client";
export const SERVICE_NAME = "kubetrail";
/** Service annotations the manifests use when no ConfigMap is published. */
export const SERVER_ANNOTATION = "kubetrail.dev/server";
export const KEY_ANNOTATION = "kubetrail.dev/verifier-key";

export interface Discovered {
  server: string;
  /** PEM of the CA that issued kubetrail's serving certificate, when published. */
  caPem?: string;
  verifierKey?: string;
  /** Where it was found, for messages. */
  origin: string;
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** The object, or undefined when it does not exist; other failures (403, TLS…) throw. */
async function getObject(
  api: JsonClient,
  path: string,
  namespace: string,
): Promise<Record<string, unknown> | undefined> {
  const reply = await api.getReply(path);
  if (reply.status === 404) return undefined;
  if (reply.status >= 200 && reply.status < 300) return record(reply.body);
  const message =
    typeof record(reply.body)["message"] === "string"
      ? (record(reply.body)["message"] as string)
      : `HTTP ${reply.status}`;
  throw new ClientError(
    reply.status === 401 || reply.status === 403 ? "refused" : "server",
    `${api.server}/${path}: ${message}` +
      (reply.status === 403
        ? ` (the manifests let every authenticated user read it: Role kubetrail-discovery;` +
          ` is kubetrail deployed in namespace "${namespace}"? (--kubetrail-namespace))`
        : ""),
  );
}

/** Where kubetrail is, as the cluster publishes it in `namespace`. */
export async function discoverKubetrail(
  api: JsonClient,
  namespace = DEFAULT_KUBETRAIL_NAMESPACE,
): Promise<Discovered> {
  const cm = await getObject(
    api,
    `api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${CLIENT_CONFIGMAP}`,
    namespace,
  );
  if (cm !== undefined) {
    const data = record(cm["data"]);
    const server = text(data["server"]);
    if (server === undefined)
      throw new ClientError(
        "config",
        `ConfigMap ${namespace}/${CLIENT_CONFIGMAP} has no "server" (the URL of kubetrail)`,
      );
    return {
      server,
      ...(text(data["ca.crt"]) === undefined ? {} : { caPem: data["ca.crt"] as string }),
      ...(text(data["verifier-key"]) === undefined
        ? {}
        : { verifierKey: text(data["verifier-key"]) as string }),
      origin: `ConfigMap ${namespace}/${CLIENT_CONFIGMAP}`,
    };
  }
  const svc = await getObject(
    api,
    `api/v1/namespaces/${encodeURIComponent(namespace)}/services/${SERVICE_NAME}`,
    namespace,
  );
  if (svc !== undefined) {
    const annotations = record(record(svc["metadata"])["annotations"]);
    const server = text(annotations[SERVER_ANNOTATION]);
    if (server === undefined)
      throw new ClientError(
        "config",
        `Service ${namespace}/${SERVICE_NAME} has no ${SERVER_ANNOTATION} annotation, and there is no ConfigMap ${CLIENT_CONFIGMAP}: ` +
          "give --server URL",
      );
    const key = text(annotations[KEY_ANNOTATION]);
    return {
      server,
      ...(key === undefined ? {} : { verifierKey: key }),
      origin: `Service ${namespace}/${SERVICE_NAME}`,
    };
  }
  throw new ClientError(
    "config",
    `kubetrail not found in namespace "${namespace}": no ConfigMap ${CLIENT_CONFIGMAP} and no Service ${SERVICE_NAME} ` +
      "(apply deploy/kubetrail.yaml, pass --kubetrail-namespace, or give --server URL)",
  );
}
