// `kubetrail apiserver-config`: everything an operator needs to point a kube-apiserver at kubetrail:
// a CA, kubetrail's serving certificate, the apiserver's client certificate, the webhook
// kubeconfig, a starting audit policy, and the flags and static-pod snippet to add.
//
// Re-running it on the same directory keeps a working pairing working: the CA and keys are
// reused, and only what is missing, about to expire or no longer fitting (--server, --san,
// --client-name) is issued again; --force replaces everything. Each generated file (or
// certificate and key pair) has one function in GENERATED, so another file is one more entry.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { stringify } from "yaml";
import { checkPolicyText } from "../audit/policy/load.js";
import { startingAuditPolicy } from "../audit/policy/starting-policy.js";
import { formatProblem } from "../audit/policy/errors.js";
import {
  checkPolicyVersion,
  formatVersion,
  NEWEST_KUBERNETES,
  type KubernetesVersion,
} from "../audit/policy/versions.js";
import { createCa, issueCert, type IssuedPem, type Issuer } from "../server/certs.js";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import {
  expiry,
  keyMatches,
  leafUnfit,
  loadIssuer,
  parseCert,
  PkiFileError,
  validUntil,
  type LoadedCert,
  type Unfit,
} from "./apiserver-pki.js";
import { CliError } from "./errors.js";
import { serverUrl } from "./ingest-client.js";
import { kubernetesVersionOption } from "./policy.js";
import { ADMISSION_FILES } from "../guard/webhook-config.js";
import {
  ADMISSION_OPTIONS,
  admissionPolicies,
  writeAdmission,
  type AdmissionFlags,
} from "./guard-webhook-config.js";

interface Flags extends AdmissionFlags {
  server: string;
  out: string;
  san: string[];
  apiserverDir: string;
  clientName: string;
  days: string;
  renewBefore: string;
  force?: boolean;
  kubernetesVersion?: string;
}

const WEBHOOK_PATH = "/v1/audit/webhook";

function webhookKubeconfig(server: URL, caPem: string, client: IssuedPem): string {
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

export type Action = "created" | "kept" | "re-issued" | "updated" | "replaced";

/** What happened to one generated file (or a certificate and its key). */
export interface FileReport {
  files: string[];
  action: Action;
  detail?: string;
  /** Problems worth reading in a file that was kept (e.g. a policy the target version ignores). */
  warnings?: string[];
}

/** What the generators share: the request, and what earlier generators settled. */
interface Context {
  dir: string;
  server: URL;
  /** Host names and IPs the serving certificate must cover. */
  hosts: string[];
  clientName: string;
  days: number;
  renewBeforeDays: number;
  force: boolean;
  target: KubernetesVersion;
  caCert?: { pem: string; loaded: LoadedCert };
  /** Absent when ca.key is not in the directory (kept offline): nothing can be issued then. */
  issuer?: Issuer;
  /** The CA was created or replaced in this run: every certificate must be issued anew. */
  caIsNew: boolean;
  client?: IssuedPem;
}

const FORCE_HINT = "--force replaces the CA and every certificate (then update the apiserver and kubetrail)";

const file = (ctx: Context, name: string) => path.join(ctx.dir, name);

async function existing(ctx: Context, name: string): Promise<string | undefined> {
  return (await readFileIfExists(file(ctx, name)))?.toString("utf8");
}

function pkiError(err: unknown): never {
  if (err instanceof PkiFileError) throw new CliError(`${err.message}; ${FORCE_HINT}`);
  throw err;
}

/** ca.crt and ca.key: created once, then reused until --force. */
async function caFiles(ctx: Context): Promise<FileReport> {
  const files = ["ca.crt", "ca.key"];
  const [certPem, keyPem] = [await existing(ctx, "ca.crt"), await existing(ctx, "ca.key")];
  if (ctx.force || (certPem === undefined && keyPem === undefined)) {
    const ca = await createCa("kubetrail audit webhook CA");
    await writeFileAtomic(file(ctx, "ca.crt"), ca.certPem, 0o644);
    await writeFileAtomic(file(ctx, "ca.key"), ca.keyPem, 0o600);
    ctx.caCert = { pem: ca.certPem, loaded: parseCert(ca.certPem, "ca.crt") };
    ctx.issuer = ca;
    ctx.caIsNew = true;
    const replaced = certPem !== undefined || keyPem !== undefined;
    return { files, action: replaced ? "replaced" : "created", detail: validUntil(ctx.caCert.loaded) };
  }
  if (certPem === undefined) {
    throw new CliError(`${file(ctx, "ca.key")} is there but ca.crt is not; restore it, or ${FORCE_HINT}`);
  }
  const loaded = (() => {
    try {
      return parseCert(certPem, file(ctx, "ca.crt"));
    } catch (err) {
      return pkiError(err);
    }
  })();
  ctx.caCert = { pem: certPem, loaded };
  const expired = expiry(loaded, 0);
  if (expired) throw new CliError(`${file(ctx, "ca.crt")} ${expired}; ${FORCE_HINT}`);
  if (keyPem !== undefined) {
    ctx.issuer = await loadIssuer(certPem, keyPem, {
      cert: file(ctx, "ca.crt"),
      key: file(ctx, "ca.key"),
    }).catch(pkiError);
  }
  const soon = expiry(loaded, ctx.renewBeforeDays);
  const warnings = soon ? [`the CA ${soon}: ${FORCE_HINT}`] : [];
  return {
    files: keyPem === undefined ? ["ca.crt"] : files,
    action: "kept",
    detail: validUntil(loaded) + (keyPem === undefined ? "; ca.key is not here (kept offline?)" : ""),
    warnings,
  };
}

interface LeafSpec {
  cert: string;
  key: string;
  commonName: string;
  hosts?: string[];
  usage: "server" | "client";
}

/** A certificate and key signed by the CA: kept while it fits, issued again when it does not. */
async function leafFiles(ctx: Context, spec: LeafSpec): Promise<{ report: FileReport; pem: IssuedPem }> {
  const files = [spec.cert, spec.key];
  const [certPem, keyPem] = [await existing(ctx, spec.cert), await existing(ctx, spec.key)];
  const present = certPem !== undefined && keyPem !== undefined;
  let why: Unfit;
  if (ctx.force) why = "--force";
  else if (ctx.caIsNew) why = "the CA is new";
  else if (!present) why = certPem === undefined ? `${spec.cert} is missing` : `${spec.key} is missing`;
  else {
    try {
      const leaf = parseCert(certPem, file(ctx, spec.cert));
      why = !keyMatches(leaf.cert, keyPem, file(ctx, spec.key))
        ? `${spec.key} is not the key of ${spec.cert}`
        : await leafUnfit(leaf, ctx.caCert!.loaded.cert, spec, ctx.renewBeforeDays);
      if (why === undefined) {
        return { report: { files, action: "kept", detail: validUntil(leaf) }, pem: { certPem, keyPem } };
      }
    } catch (err) {
      if (!(err instanceof PkiFileError)) throw err;
      why = err.message;
    }
  }
  if (!ctx.issuer) {
    throw new CliError(
      `${spec.cert} must be issued again (${why}) but ${file(ctx, "ca.key")} is not there to sign it; restore ca.key, or ${FORCE_HINT}`,
    );
  }
  const pem = await issueCert(ctx.issuer, { ...spec, days: ctx.days });
  await writeFileAtomic(file(ctx, spec.cert), pem.certPem, 0o644);
  await writeFileAtomic(file(ctx, spec.key), pem.keyPem, 0o600);
  const action: Action =
    certPem === undefined && keyPem === undefined
      ? "created"
      : ctx.force || ctx.caIsNew
        ? "replaced"
        : "re-issued";
  return { report: { files, action, detail: action === "created" ? undefined : why }, pem };
}

/** kubetrail.crt and kubetrail.key: kubetrail's serving certificate for --server and --san. */
async function servingCert(ctx: Context): Promise<FileReport> {
  const host = ctx.hosts[0]!;
  const { report } = await leafFiles(ctx, {
    cert: "kubetrail.crt",
    key: "kubetrail.key",
    commonName: host,
    hosts: ctx.hosts,
    usage: "server",
  });
  return report;
}

/** apiserver-client.crt and apiserver-client.key: what the apiserver presents to kubetrail. */
async function clientCert(ctx: Context): Promise<FileReport> {
  const { report, pem } = await leafFiles(ctx, {
    cert: "apiserver-client.crt",
    key: "apiserver-client.key",
    commonName: ctx.clientName,
    usage: "client",
  });
  ctx.client = pem;
  return report;
}

/** Writes a file derived entirely from the others: rewritten whenever it no longer matches them. */
async function derivedFile(ctx: Context, name: string, content: string, mode: number): Promise<FileReport> {
  const old = await existing(ctx, name);
  if (old === content) return { files: [name], action: "kept" };
  await writeFileAtomic(file(ctx, name), content, mode);
  if (old === undefined) return { files: [name], action: "created" };
  return {
    files: [name],
    action: ctx.force ? "replaced" : "updated",
    detail: ctx.caIsNew
      ? "for the new CA and client certificate"
      : "it did not match ca.crt, the client certificate and --server",
  };
}

/** audit-webhook-kubeconfig.yaml: embeds the client key, so it is a secret too. */
async function webhookKubeconfigFile(ctx: Context): Promise<FileReport> {
  const content = webhookKubeconfig(ctx.server, ctx.caCert!.pem, ctx.client!);
  return derivedFile(ctx, "audit-webhook-kubeconfig.yaml", content, 0o600);
}

/** audit-policy.yaml: the operator's to edit, so an existing one is kept (and checked) unless --force. */
async function auditPolicyFile(ctx: Context): Promise<FileReport> {
  const name = "audit-policy.yaml";
  const generated = startingAuditPolicy(ctx.target);
  const old = await existing(ctx, name);
  if (old === generated) return { files: [name], action: "kept" };
  if (old === undefined || ctx.force) {
    await writeFileAtomic(file(ctx, name), generated, 0o644);
    return {
      files: [name],
      action: old === undefined ? "created" : "replaced",
      detail: `the starting policy for Kubernetes ${formatVersion(ctx.target)}`,
    };
  }
  const checked = checkPolicyText(old);
  const warnings = checked.errors.map((e) => `error: ${formatProblem(e)}`);
  if (checked.errors.length === 0) {
    const v = checkPolicyVersion(checked.policy, ctx.target, true);
    warnings.push(...v.errors.map((e) => `error: ${formatProblem(e)}`));
    warnings.push(...v.warnings.map((w) => `warning: ${formatProblem(w)}`));
  }
  return {
    files: [name],
    action: "kept",
    detail: `differs from the starting policy for Kubernetes ${formatVersion(ctx.target)}; --force replaces it`,
    warnings,
  };
}

/** In order: later generators use what earlier ones settled (the CA, the client certificate). */
const GENERATED: ((ctx: Context) => Promise<FileReport>)[] = [
  caFiles,
  servingCert,
  clientCert,
  webhookKubeconfigFile,
  auditPolicyFile,
];

function formatReport(r: FileReport): string[] {
  const line = `  ${r.files.join(", ")}: ${r.action}${r.detail ? ` (${r.detail})` : ""}`;
  return [line, ...(r.warnings ?? []).map((w) => `    ${w}`)];
}

function positiveInteger(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag}: ${text} is not an integer ≥ ${min}`, 2);
  return n;
}

export function registerApiserverConfig(program: Command): void {
  program
    .command("apiserver-config")
    .description(
      "Write the CA, certificates, webhook kubeconfig and audit policy that wire a kube-apiserver to kubetrail, and print the flags to add. " +
        "On an existing directory the CA and keys are kept and only what is missing, about to expire or no longer matching is issued again; --force replaces everything.",
    )
    .requiredOption(
      "--server <url>",
      "kubetrail's address as the apiserver reaches it, e.g. https://kubetrail.example:8443",
    )
    .requiredOption(
      "--out <dir>",
      "directory to write the files into (an existing one is updated, not replaced)",
    )
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
    .option("--days <n>", "validity of newly issued leaf certificates in days", "825")
    .option(
      "--renew-before <days>",
      "issue a kept certificate again when it expires within this many days",
      "30",
    )
    .option(
      "--kubernetes-version <version>",
      `the apiserver's release (e.g. 1.20): the audit policy uses only what it honours (default: the newest known, ${formatVersion(NEWEST_KUBERNETES)})`,
    )
    .option(
      "--force",
      "replace the CA, every certificate and key, and the audit policy, saying what was replaced",
    )
    .addOption(ADMISSION_OPTIONS.failurePolicy)
    .addOption(ADMISSION_OPTIONS.timeout)
    .addOption(ADMISSION_OPTIONS.exemptNamespaces)
    .addOption(ADMISSION_OPTIONS.resources)
    .addOption(ADMISSION_OPTIONS.policies)
    .action(async (flags: Flags) => {
      const server = serverUrl(flags.server, "the apiserver sends audit events over TLS");
      const policies = admissionPolicies(flags);
      const days = positiveInteger(flags.days, "--days", 1);
      const renewBeforeDays = positiveInteger(flags.renewBefore, "--renew-before", 0);
      if (renewBeforeDays >= days)
        throw new CliError(`--renew-before (${renewBeforeDays}) must be less than --days (${days})`, 2);
      const target =
        flags.kubernetesVersion === undefined
          ? NEWEST_KUBERNETES
          : kubernetesVersionOption(flags.kubernetesVersion);
      const host = server.hostname.replace(/^\[|\]$/g, "");
      await mkdir(flags.out, { recursive: true, mode: 0o700 });
      const ctx: Context = {
        dir: flags.out,
        server,
        hosts: [...new Set([host, ...flags.san])],
        clientName: flags.clientName,
        days,
        renewBeforeDays,
        force: flags.force === true,
        target,
        caIsNew: false,
      };
      const reports: FileReport[] = [];
      for (const generate of GENERATED) reports.push(await generate(ctx));
      // Derived from the CA, the client certificate and the --admission-* flags: always rewritten.
      const admission = await writeAdmission(flags, server, ctx.caCert!.pem, ctx.client!, policies);
      const out = (name: string) => path.join(flags.out, name);
      const dir = flags.apiserverDir;
      const changed = reports.some(
        (r) => r.action === "re-issued" || r.action === "replaced" || r.action === "updated",
      );
      process.stdout.write(
        [
          `${flags.out}/ (for Kubernetes ${formatVersion(target)}):`,
          ...reports.flatMap(formatReport),
          `  ${ADMISSION_FILES.join(", ")}: written`,
          ...(changed
            ? [
                "",
                "Files were re-issued or replaced: restart kubetrail serve if its certificate changed, and copy",
                `audit-webhook-kubeconfig.yaml to ${dir}/ again (the apiserver reads it when it starts).`,
              ]
            : []),
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
