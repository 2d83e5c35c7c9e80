// Credentials of a service account for tests and benches: a token from the TokenRequest API
// (kubectl 1.20 has no `create token`) and a kubeconfig presenting it.
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { request } from "../fixtures/audit/request.js";
import type { Cluster } from "./cluster.js";

/** A one-hour token of the service account `namespace/name`, requested as the admin. */
export async function serviceAccountToken(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<string> {
  const r = await request(Number(new URL(cluster.url).port), {
    method: "POST",
    path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    ca: cluster.caPem,
    body: JSON.stringify({
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    }),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${cluster.adminToken}` },
  });
  if (r.status !== 201) throw new Error(`TokenRequest ${namespace}/${name}: ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { status: { token: string } }).status.token;
}

/** Writes a kubeconfig for the cluster presenting `token` (mode 0600) to `file`. */
export function tokenKubeconfig(cluster: Cluster, token: string, file: string): string {
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "c",
          cluster: {
            server: cluster.url,
            "certificate-authority-data": Buffer.from(cluster.caPem).toString("base64"),
          },
        },
      ],
      users: [{ name: "sa", user: { token } }],
      contexts: [{ name: "sa", context: { cluster: "c", user: "sa" } }],
      "current-context": "sa",
    }),
    { mode: 0o600 },
  );
  return file;
}
