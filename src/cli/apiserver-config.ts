// `kubetrail apiserver-config`: everything an operator needs to point a kube-apiserver at kubetrail:
// a CA, kubetrail's serving certificate, the apiserver's client certificate, the webhook
// kubeconfig, a starting audit policy, and the flags and static-pod snippet to add.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { stringify } from "yaml";
import { STARTING_AUDIT_POLICY } from "../server/audit-policy-template.js";
import { createCa, issueCert } from "../server/certs.js";
import { writeFileAtomic } from "../store/durable-file.js";
import { ADMISSION_FILES } from "../guard/webhook-config.js";
import { CliError } from "./errors.js";
import { ADMISSION_OPTIONS, writeAdmission, type AdmissionFlags } from "./guard-webhook-config.js";

interface Flags extends AdmissionFlags {
  server: string;
  out: string;
  san: string[];
  apiserverDir: string;
  clientName: string;
  days: string;
}

const WEBHOOK_PATH = "/v1/audit/webhook";

function parseServer(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `--server: ${JSON.stringify(text)} is not a URL (e.g. https://kubetrail.example:8443)`,
      2,
    );
  }
  if (url.protocol !== "https:")
    throw new CliError("--server: must be an https:// URL (the apiserver sends audit events over TLS)", 2);
  return url;
}

function webhookKubeconfig(server: URL, caPem: string, client: { certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const endpoint = new URL(WEBHOOK_PATH, server).toString();
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "kubetrail", cluster: { server: endpoint, "certificate-authority-data": b64(caPem) } },
    ],
    users: [
      {
        name: "kube-apiserver",
        user: { "client-certificate-data": b64(client.certPem), "client-key-data": b64(client.keyPem) },
      },
    ],
    contexts: [{ name: "kubetrail", context: { cluster: "kubetrail", user: "kube-apiserver" } }],
    "current-context": "kubetrail",
  });
}

export function apiserverFlags(dir: string): string[] {
  return [
    `--audit-policy-file=${dir}/audit-policy.yaml`,
    `--audit-webhook-config-file=${dir}/audit-webhook-kubeconfig.yaml`,
    "--audit-webhook-version=audit.k8s.io/v1",
    "--audit-webhook-mode=batch",
    "--audit-webhook-batch-max-size=400",
    "--audit-webhook-batch-max-wait=5s",
    "--audit-webhook-batch-buffer-size=10000",
    "--audit-webhook-initial-backoff=5s",
  ];
}

function staticPodSnippet(dir: string): string {
  // Written by hand rather than with yaml.stringify: the "existing flags" marker must be a comment.
  return [
    "spec:",
    "  containers:",
    "    - name: kube-apiserver",
    "      command:",
    "        - kube-apiserver",
    "        # …existing flags…",
    ...apiserverFlags(dir).map((f) => `        - ${f}`),
    "      volumeMounts:",
    "        - name: kubetrail",
    `          mountPath: ${dir}`,
    "          readOnly: true",
    "  volumes:",
    "    - name: kubetrail",
    "      hostPath:",
    `        path: ${dir}`,
    "        type: DirectoryOrCreate",
    "",
  ].join("\n");
}

export function registerApiserverConfig(program: Command): void {
  program
    .command("apiserver-config")
    .description(
      "Write the CA, certificates, webhook kubeconfig and audit policy that wire a kube-apiserver to kubetrail, and print the flags to add",
    )
    .requiredOption(
      "--server <url>",
      "kubetrail's address as the apiserver reaches it, e.g. https://kubetrail.example:8443",
    )
    .requiredOption("--out <dir>", "directory to write the files into")
    .option(
      "--san <host>",
      "another host name or IP for the serving certificate (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      "--apiserver-dir <dir>",
      "where the files will be on the control-plane node (used in the printed flags)",
      "/etc/kubernetes/kubetrail",
    )
    .option("--client-name <cn>", "common name of the apiserver's client certificate", "kube-apiserver")
    .option("--days <n>", "validity of the leaf certificates in days", "825")
    .addOption(ADMISSION_OPTIONS.failurePolicy)
    .addOption(ADMISSION_OPTIONS.timeout)
    .addOption(ADMISSION_OPTIONS.exemptNamespaces)
    .addOption(ADMISSION_OPTIONS.resources)
    .action(async (flags: Flags) => {
      const server = parseServer(flags.server);
      const days = Number(flags.days);
      if (!Number.isInteger(days) || days < 1)
        throw new CliError(`--days: ${flags.days} is not a positive integer`, 2);
      const host = server.hostname.replace(/^\[|\]$/g, "");
      await mkdir(flags.out, { recursive: true, mode: 0o700 });
      const ca = await createCa("kubetrail audit webhook CA");
      const serving = await issueCert(ca, {
        commonName: host,
        hosts: [...new Set([host, ...flags.san])],
        usage: "server",
        days,
      });
      const client = await issueCert(ca, { commonName: flags.clientName, usage: "client", days });
      const out = (name: string) => path.join(flags.out, name);
      await writeFileAtomic(out("ca.crt"), ca.certPem, 0o644);
      await writeFileAtomic(out("ca.key"), ca.keyPem, 0o600);
      await writeFileAtomic(out("kubetrail.crt"), serving.certPem, 0o644);
      await writeFileAtomic(out("kubetrail.key"), serving.keyPem, 0o600);
      await writeFileAtomic(out("apiserver-client.crt"), client.certPem, 0o644);
      await writeFileAtomic(out("apiserver-client.key"), client.keyPem, 0o600);
      // Embeds the client key, so it is a secret too.
      await writeFileAtomic(
        out("audit-webhook-kubeconfig.yaml"),
        webhookKubeconfig(server, ca.certPem, client),
        0o600,
      );
      await writeFileAtomic(out("audit-policy.yaml"), STARTING_AUDIT_POLICY, 0o644);
      const admission = await writeAdmission(flags, server, ca.certPem, client);
      const dir = flags.apiserverDir;
      process.stdout.write(
        [
          `Wrote ${flags.out}/: ca.crt ca.key kubetrail.crt kubetrail.key apiserver-client.crt apiserver-client.key audit-webhook-kubeconfig.yaml audit-policy.yaml ${ADMISSION_FILES.join(" ")}`,
          "",
          "1. Run kubetrail with the serving certificate, accepting only the apiserver's client certificate:",
          `   kubetrail serve --data /var/lib/kubetrail --listen :${server.port || "443"} --tls-cert ${out("kubetrail.crt")} --tls-key ${out("kubetrail.key")} --client-ca ${out("ca.crt")}`,
          "",
          `2. Copy audit-webhook-kubeconfig.yaml and audit-policy.yaml to ${dir}/ on every control-plane node`,
          "   (keep ca.key and kubetrail.key off those nodes).",
          "",
          "3. Add these kube-apiserver flags:",
          ...apiserverFlags(dir).map((f) => `   ${f}`),
          "",
          "4. In a static pod (/etc/kubernetes/manifests/kube-apiserver.yaml), mount the directory:",
          ...staticPodSnippet(dir)
            .trimEnd()
            .split("\n")
            .map((l) => `   ${l}`),
          "",
          ...admission,
        ].join("\n"),
      );
    });
}
