// What `kubetrail apiserver-config` writes for the admission webhook: the
// ValidatingWebhookConfiguration to apply, and the AdmissionConfiguration + kubeconfig with
// which the kube-apiserver authenticates to kubetrail (the same client certificate as the
// audit webhook). See docs/guardrails.md for the failurePolicy trade-off.
import path from "node:path";
import { stringify } from "yaml";
import { writeFileAtomic } from "../store/durable-file.js";
import { POD_RULES } from "./builtin/catalog.js";
import type { ResourceRule } from "./policy/match.js";
import type { LoadedPolicy } from "./policy/policy.js";

export const WEBHOOK_NAME = "validate.kubetrail.dev";
export const WEBHOOK_CONFIGURATION_NAME = "kubetrail-guard";
export const ADMISSION_PATH = "/v1/admission/validate";

export interface AdmissionWebhookOptions {
  /** kubetrail's address as the apiserver reaches it. */
  server: URL;
  caPem: string;
  /** Ignore (the default): the apiserver admits when kubetrail cannot answer; Fail: it refuses. */
  failurePolicy: "Ignore" | "Fail";
  timeoutSeconds: number;
  /** Never sent to the webhook: kube-system and kubetrail's own namespace, so neither can lock itself out. */
  exemptNamespaces: string[];
  /** "builtin": the resources the built-in policies check; "all": every resource and subresource. */
  resources: "builtin" | "all";
  /**
   * With "builtin": the policies serve will load (--guard-policies), whose resources are sent
   * too; without them a policy on anything the built-ins do not check would never be asked.
   */
  policies?: readonly LoadedPolicy[];
}

const WRITE_OPERATIONS = ["CREATE", "UPDATE"];

/**
 * A policy's resource rule as a webhook rule. A rule naming kinds (kubetrail's shorthand) is
 * sent for every resource of its groups: a webhook rule names resources, and guessing a kind's
 * resource name wrong would leave the policy unasked.
 */
function webhookRule(r: ResourceRule): Record<string, unknown> {
  return {
    apiGroups: [...r.groups],
    apiVersions: [...r.versions],
    operations: [...r.operations],
    resources: r.kinds.length > 0 ? ["*"] : [...r.resources],
    scope: r.scope,
  };
}

function rules(
  resources: AdmissionWebhookOptions["resources"],
  policies: readonly LoadedPolicy[] = [],
): Record<string, unknown>[] {
  if (resources === "all")
    return [
      {
        apiGroups: ["*"],
        apiVersions: ["*"],
        operations: [...WRITE_OPERATIONS],
        resources: ["*/*"],
        scope: "*",
      },
    ];
  const byGroup = new Map<string, string[]>();
  const add = (group: string, res: string[]) => byGroup.set(group, [...(byGroup.get(group) ?? []), ...res]);
  for (const r of POD_RULES) for (const g of r.groups) add(g, r.resources);
  add("", ["configmaps", "namespaces"]);
  add("rbac.authorization.k8s.io", ["clusterrolebindings", "rolebindings"]);
  const builtin = [...byGroup].map(([group, res]) => ({
    apiGroups: [group],
    apiVersions: ["*"],
    operations: [...WRITE_OPERATIONS],
    resources: res,
    scope: "*",
  }));
  // The built-ins' default rules are the set above; every other policy's go after it, once each.
  const seen = new Set(builtin.map((r) => JSON.stringify(r)));
  const extra: Record<string, unknown>[] = [];
  for (const p of policies) {
    if (p.source === "builtin" || p.modes.length === 0) continue;
    for (const r of p.rules) {
      const rule = webhookRule(r);
      const key = JSON.stringify(rule);
      if (seen.has(key)) continue;
      seen.add(key);
      extra.push(rule);
    }
  }
  return [...builtin, ...extra];
}

export function validatingWebhookConfiguration(o: AdmissionWebhookOptions): string {
  return stringify({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: WEBHOOK_CONFIGURATION_NAME, labels: { "app.kubernetes.io/name": "kubetrail" } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        clientConfig: {
          url: new URL(ADMISSION_PATH, o.server).toString(),
          caBundle: Buffer.from(o.caPem).toString("base64"),
        },
        rules: rules(o.resources, o.policies),
        failurePolicy: o.failurePolicy,
        matchPolicy: "Equivalent",
        sideEffects: "None",
        timeoutSeconds: o.timeoutSeconds,
        // kubernetes.io/metadata.name is set on every namespace from Kubernetes 1.21; on older
        // clusters label kube-system and kubetrail's namespace with it (see docs/guardrails.md).
        namespaceSelector: {
          matchExpressions: [
            { key: "kubernetes.io/metadata.name", operator: "NotIn", values: o.exemptNamespaces },
          ],
        },
      },
    ],
  });
}

/** The apiserver's credentials for the webhook, keyed by host:port as WebhookAdmission expects. */
export function admissionKubeconfig(server: URL, client: { certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const port = server.port || "443";
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    users: [
      {
        name: `${server.hostname}:${port}`,
        user: { "client-certificate-data": b64(client.certPem), "client-key-data": b64(client.keyPem) },
      },
    ],
  });
}

export function admissionConfiguration(kubeconfigFile: string): string {
  const plugin = (name: string) => ({
    name,
    configuration: {
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "WebhookAdmissionConfiguration",
      kubeConfigFile: kubeconfigFile,
    },
  });
  return stringify({
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "AdmissionConfiguration",
    plugins: [plugin("ValidatingAdmissionWebhook")],
  });
}

/** The kube-apiserver flag that gives it the webhook credentials (files under `dir` on the node). */
export function admissionFlags(dir: string): string[] {
  return [`--admission-control-config-file=${dir}/admission-config.yaml`];
}

export const ADMISSION_FILES = [
  "admission-webhook.yaml",
  "admission-config.yaml",
  "admission-kubeconfig.yaml",
];

/** Writes ADMISSION_FILES into `outDir`; `apiserverDir` is where the node will have them. */
export async function writeAdmissionFiles(
  outDir: string,
  apiserverDir: string,
  o: AdmissionWebhookOptions,
  client: { certPem: string; keyPem: string },
): Promise<void> {
  await writeFileAtomic(
    path.join(outDir, "admission-webhook.yaml"),
    validatingWebhookConfiguration(o),
    0o644,
  );
  await writeFileAtomic(
    path.join(outDir, "admission-config.yaml"),
    admissionConfiguration(`${apiserverDir}/admission-kubeconfig.yaml`),
    0o644,
  );
  // Holds the client key.
  await writeFileAtomic(
    path.join(outDir, "admission-kubeconfig.yaml"),
    admissionKubeconfig(o.server, client),
    0o600,
  );
}
