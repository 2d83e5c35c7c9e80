// apiserver-config's part for the admission webhook: its flags, the files it writes (see
// src/guard/webhook-config.ts) and the steps it prints.
import path from "node:path";
import { InvalidArgumentError, Option } from "commander";
import { loadPolicies } from "../guard/policy/load.js";
import type { LoadedPolicy } from "../guard/policy/policy.js";
import { GuardError } from "../guard/types.js";
import { ADMISSION_FILES, admissionFlags, writeAdmissionFiles } from "../guard/webhook-config.js";
import { CliError } from "./errors.js";
import { commaList } from "./list-options.js";

export interface AdmissionFlags {
  out: string;
  apiserverDir: string;
  admissionFailurePolicy: string;
  admissionTimeout: string;
  admissionExemptNamespaces: string;
  admissionResources: string;
  admissionPolicies?: string;
}

/** The admission webhook's flags of apiserver-config. */
export const ADMISSION_OPTIONS = {
  failurePolicy: new Option(
    "--admission-failure-policy <policy>",
    "what the apiserver does when kubetrail cannot answer a review: Ignore (admit) or Fail (refuse)",
  )
    .choices(["Ignore", "Fail"])
    .default("Ignore"),
  timeout: new Option("--admission-timeout <seconds>", "how long the apiserver waits for a review (1-30)")
    .argParser((v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 30)
        throw new InvalidArgumentError(`"${v}" is not a whole number of seconds from 1 to 30`);
      return v;
    })
    .default("5"),
  exemptNamespaces: new Option(
    "--admission-exempt-namespaces <list>",
    "namespaces never sent to the webhook, comma-separated (kubetrail's own, so it can always start)",
  ).default("kube-system,kubetrail"),
  resources: new Option(
    "--admission-resources <set>",
    "builtin: what the built-in policies check; all: every resource (for your own policies)",
  )
    .choices(["builtin", "all"])
    .default("builtin"),
  policies: new Option(
    "--admission-policies <paths>",
    "the policy files serve loads (its --guard-policies, comma-separated): with builtin, the webhook is also sent what they check",
  ),
};

/**
 * The policies of --admission-policies, loaded as serve loads them and refused with serve's
 * reasons: called before anything is written.
 */
export function admissionPolicies(flags: AdmissionFlags): LoadedPolicy[] | undefined {
  if (flags.admissionPolicies === undefined) return undefined;
  if (flags.admissionResources === "all")
    throw new CliError("--admission-policies: --admission-resources all already sends every resource", 2);
  const paths = commaList(flags.admissionPolicies);
  try {
    return loadPolicies(paths, { builtins: false }).policies;
  } catch (err) {
    if (err instanceof GuardError)
      throw new CliError(`--admission-policies: ${err.message}`, 2, { cause: err });
    throw err;
  }
}

/** Writes the admission files and returns the instructions to print. */
export async function writeAdmission(
  flags: AdmissionFlags,
  server: URL,
  caPem: string,
  client: { certPem: string; keyPem: string },
  policies: LoadedPolicy[] | undefined,
): Promise<string[]> {
  // Checked by the options' parsers before anything is written.
  const failurePolicy = flags.admissionFailurePolicy as "Ignore" | "Fail";
  const timeout = Number(flags.admissionTimeout);
  const resources = flags.admissionResources as "builtin" | "all";
  const exemptNamespaces = commaList(flags.admissionExemptNamespaces);
  await writeAdmissionFiles(
    flags.out,
    flags.apiserverDir,
    {
      server,
      caPem,
      failurePolicy,
      timeoutSeconds: timeout,
      exemptNamespaces,
      resources,
      ...(policies ? { policies } : {}),
    },
    client,
  );
  return [
    "5. Admission guardrails (POST /v1/admission/validate): copy admission-config.yaml and",
    `   admission-kubeconfig.yaml to ${flags.apiserverDir}/ as well, add this flag, then apply the webhook:`,
    ...admissionFlags(flags.apiserverDir).map((f) => `   ${f}`),
    `   kubectl apply -f ${path.join(flags.out, ADMISSION_FILES[0]!)}`,
    `   (failurePolicy ${failurePolicy}${failurePolicy === "Ignore" ? ": requests are admitted, unchecked and unrecorded, while kubetrail is down" : ": requests are refused while kubetrail is down"}; exempt: ${exemptNamespaces.join(", ")})`,
    "",
  ];
}
