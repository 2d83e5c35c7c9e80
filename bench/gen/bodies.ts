// Request and response bodies shaped like the Kubernetes objects they stand for, padded to a
// chosen size. Padding text comes from a fixed pool so large bodies cost a slice, not a loop.
import type { ResourceKind } from "./catalog.js";
import { stableUid } from "./catalog.js";
import { makeRng, type Rng } from "./rng.js";

const POOL_SIZE = 1 << 16;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const POOL = ((): string => {
  const rng = makeRng(0x6b756265);
  const chars: string[] = [];
  for (let i = 0; i < POOL_SIZE * 2; i++) chars.push(B64[rng.int(64)] as string);
  return chars.join("");
})();

/** `n` characters of base64-looking text (as in Secret data or last-applied annotations). */
export function filler(rng: Rng, n: number): string {
  let out = "";
  while (n > 0) {
    const take = Math.min(n, POOL_SIZE);
    const at = rng.int(POOL_SIZE);
    out += POOL.slice(at, at + take);
    n -= take;
  }
  return out;
}

export interface ObjectId {
  res: ResourceKind;
  namespace?: string;
  name: string;
  resourceVersion: string;
  createdAt: string;
}

function apiVersionOf(res: ResourceKind): string {
  return res.group === "" ? res.version : `${res.group}/${res.version}`;
}

/** A full object of about `size` bytes of JSON. */
export function objectBody(rng: Rng, id: ObjectId, size: number): Record<string, unknown> {
  const app = id.name.split("-")[0] ?? id.name;
  const metadata: Record<string, unknown> = {
    name: id.name,
    ...(id.namespace !== undefined ? { namespace: id.namespace } : {}),
    uid: stableUid(`${id.namespace ?? ""}/${id.res.resource}/${id.name}`),
    resourceVersion: id.resourceVersion,
    creationTimestamp: id.createdAt,
    labels: { app, "app.kubernetes.io/managed-by": "argocd", "pod-template-hash": rng.alnum(10) },
  };
  const base = { kind: id.res.kind, apiVersion: apiVersionOf(id.res), metadata };
  const overhead = JSON.stringify(base).length + 80;
  const pad = Math.max(0, size - overhead);
  switch (id.res.resource) {
    case "secrets":
    case "configmaps":
      return { ...base, data: { "config.yaml": filler(rng, pad) }, type: "Opaque" };
    default:
      metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": filler(rng, pad >> 1) };
      return {
        ...base,
        spec: {
          replicas: rng.range(1, 6),
          containers: [
            {
              name: app,
              image: `registry.example.com/${app}:1.${rng.int(40)}.${rng.int(10)}`,
              args: [filler(rng, pad - (pad >> 1))],
            },
          ],
        },
        status: { phase: "Running", observedGeneration: rng.range(1, 90) },
      };
  }
}

/** A List response of about `size` bytes, built from items of a few KB each. */
export function listBody(
  rng: Rng,
  res: ResourceKind,
  namespace: string | undefined,
  size: number,
  rv: string,
): Record<string, unknown> {
  const items: Record<string, unknown>[] = [];
  let total = 120;
  while (total < size) {
    const itemSize = Math.min(size - total + 60, rng.range(1500, 4500));
    const name = `${res.resource.slice(0, 8)}-${rng.alnum(5)}`;
    items.push(
      objectBody(
        rng,
        {
          res,
          namespace,
          name,
          resourceVersion: String(rng.range(1e6, 9e7)),
          createdAt: "2026-10-02T08:14:55Z",
        },
        itemSize,
      ),
    );
    total += itemSize + 1;
  }
  return { kind: `${res.kind}List`, apiVersion: apiVersionOf(res), metadata: { resourceVersion: rv }, items };
}

/** A strategic-merge patch; node and pod status patches from the kubelet run to several KB. */
export function patchBody(rng: Rng, res: ResourceKind, size: number): Record<string, unknown> {
  if (res.resource === "nodes" || res.resource === "pods") {
    return {
      status: {
        $setElementOrder: [{ type: "Ready" }, { type: "MemoryPressure" }, { type: "DiskPressure" }],
        conditions: [
          {
            lastHeartbeatTime: "2026-11-21T00:00:00Z",
            type: "Ready",
            message: filler(rng, Math.max(16, size - 200)),
          },
        ],
      },
    };
  }
  return {
    metadata: {
      annotations: {
        "kubectl.kubernetes.io/restartedAt": "2026-11-21T00:00:00Z",
        note: filler(rng, Math.max(8, size - 120)),
      },
    },
  };
}

export const DELETE_OPTIONS = {
  kind: "DeleteOptions",
  apiVersion: "meta.k8s.io/v1",
  propagationPolicy: "Background",
};
