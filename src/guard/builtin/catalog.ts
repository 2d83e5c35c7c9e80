// The built-in policies: what each checks, on which resources by default, and its settings.
// They are on by default in audit mode; a GuardPolicy with `spec.builtin: NAME` replaces the
// default instance (another mode, match, settings or exceptions), and mode `off` switches it off.
import { isRecord } from "../../json/record.js";
import type { FieldErrors } from "../policy/field-errors.js";
import type { ResourceRule } from "../policy/match.js";
import type { EvalInput } from "../policy/policy.js";
import { NO_VIOLATIONS, type AdmissionRequest, type Violation } from "../types.js";
import { checkClusterAdminBinding, DEFAULT_CLUSTER_ADMIN_SETTINGS } from "./cluster-admin.js";
import {
  checkConfigMapCredentials,
  checkEnvCredentials,
  DEFAULT_CREDENTIAL_SETTINGS,
  type CredentialSettings,
} from "./credentials.js";
import { checkImages, DEFAULT_IMAGE_SETTINGS } from "./images.js";
import { checkPodSecurity } from "./pod-security.js";
import { podTemplateOf, type PodTemplate } from "./pod-templates.js";

/** Bumped whenever a built-in check changes what it reports: recorded with every decision. */
export const BUILTIN_LIBRARY_VERSION = "builtin/1";

export interface BuiltinDefinition {
  name: string;
  description: string;
  defaultRules: ResourceRule[];
  /** Checks settings and fills in defaults; problems go to errs. */
  settings(value: Record<string, unknown>, at: string, errs: FieldErrors): unknown;
  check(input: EvalInput, settings: unknown): Violation[];
}

const rule = (
  groups: string[],
  resources: string[],
  operations: ResourceRule["operations"] = ["CREATE", "UPDATE"],
): ResourceRule => ({
  groups,
  versions: ["*"],
  resources,
  kinds: [],
  operations,
  scope: "*",
  resourceNames: [],
});

/** Pods (and their ephemeral containers) and every workload that holds a pod template. */
export const POD_RULES: ResourceRule[] = [
  rule([""], ["pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"]),
  rule(["apps"], ["deployments", "statefulsets", "daemonsets", "replicasets"]),
  rule(["batch"], ["jobs", "cronjobs"]),
];

function noSettings(value: Record<string, unknown>, at: string, errs: FieldErrors): undefined {
  errs.unknownFields(value, [], at);
  return undefined;
}

function boolSetting(
  value: Record<string, unknown>,
  key: string,
  at: string,
  errs: FieldErrors,
  fallback: boolean,
): boolean {
  const v = value[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") errs.add(`${at}.${key}`, "must be true or false");
  return v === true;
}

/** The request's pod template, found once per review for every built-in that reads it. */
const requestPod = (r: AdmissionRequest): PodTemplate | undefined => podTemplateOf(r.kind.kind, r.object);

function podCheck(level: "baseline" | "restricted") {
  return (input: EvalInput): Violation[] => {
    const t = input.shared(requestPod);
    return t === undefined ? NO_VIOLATIONS : checkPodSecurity(level, t);
  };
}

export const BUILTINS: readonly BuiltinDefinition[] = [
  {
    name: "pss-baseline",
    description: "Pod Security Standards, baseline: no known privilege escalations",
    defaultRules: POD_RULES,
    settings: noSettings,
    check: podCheck("baseline"),
  },
  {
    name: "pss-restricted",
    description: "Pod Security Standards, restricted: current pod hardening best practice",
    defaultRules: POD_RULES,
    settings: noSettings,
    check: podCheck("restricted"),
  },
  {
    name: "images",
    description: "images from allowed registries only, no :latest, pinned by digest",
    defaultRules: POD_RULES,
    settings(value, at, errs) {
      errs.unknownFields(value, ["allowedRegistries", "disallowLatest", "requireDigest"], at);
      return {
        allowedRegistries: errs.strings(
          value,
          "allowedRegistries",
          at,
          DEFAULT_IMAGE_SETTINGS.allowedRegistries,
        ),
        disallowLatest: boolSetting(value, "disallowLatest", at, errs, DEFAULT_IMAGE_SETTINGS.disallowLatest),
        requireDigest: boolSetting(value, "requireDigest", at, errs, DEFAULT_IMAGE_SETTINGS.requireDigest),
      };
    },
    check(input, settings) {
      const t = input.shared(requestPod);
      return t === undefined ? NO_VIOLATIONS : checkImages(t, settings as typeof DEFAULT_IMAGE_SETTINGS);
    },
  },
  {
    name: "no-credentials",
    description: "no credentials in ConfigMaps or in container environment values",
    defaultRules: [...POD_RULES, rule([""], ["configmaps"])],
    settings(value, at, errs) {
      errs.unknownFields(value, ["configMaps", "env", "byName"], at);
      const d = DEFAULT_CREDENTIAL_SETTINGS;
      return {
        configMaps: boolSetting(value, "configMaps", at, errs, d.configMaps),
        env: boolSetting(value, "env", at, errs, d.env),
        byName: boolSetting(value, "byName", at, errs, d.byName),
      };
    },
    check(input, settings) {
      const s = settings as CredentialSettings;
      const r = input.request;
      if (r.resource.group === "" && r.resource.resource === "configmaps")
        return checkConfigMapCredentials(r.object, s);
      const t = input.shared(requestPod);
      return t === undefined ? NO_VIOLATIONS : checkEnvCredentials(t, s);
    },
  },
  {
    name: "no-cluster-admin",
    description: "no new cluster-admin bindings to subjects outside the system",
    defaultRules: [rule(["rbac.authorization.k8s.io"], ["clusterrolebindings", "rolebindings"])],
    settings(value, at, errs) {
      errs.unknownFields(value, ["roles"], at);
      return { roles: errs.strings(value, "roles", at, DEFAULT_CLUSTER_ADMIN_SETTINGS.roles) };
    },
    check(input, settings) {
      return checkClusterAdminBinding(input.request, settings as typeof DEFAULT_CLUSTER_ADMIN_SETTINGS);
    },
  },
];

export function builtinNamed(name: string): BuiltinDefinition | undefined {
  return BUILTINS.find((b) => b.name === name);
}

export function settingsObject(v: unknown, at: string, errs: FieldErrors): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) {
    errs.add(at, "must be an object");
    return {};
  }
  return v;
}
