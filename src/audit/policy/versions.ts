// Which Kubernetes release honours which part of an audit Policy, from the apiserver's own
// history (k8s.io/apiserver pkg/apis/audit, pkg/audit/policy): a policy that is valid for the
// newest release can be refused by an older apiserver, or silently mean less there.
import { problem, type FieldProblem } from "./errors.js";
import type { Policy } from "./types.js";
import { AuditError } from "../errors.js";

/** A Kubernetes minor release, e.g. 1.20. Patch releases never change the audit Policy. */
export interface KubernetesVersion {
  major: 1;
  minor: number;
}

/** The newest release whose audit Policy changes kubetrail knows (group "*" arrived in 1.36). */
export const NEWEST_KUBERNETES: KubernetesVersion = { major: 1, minor: 36 };
/** audit.k8s.io/v1, the API kubetrail writes and reads, is served from 1.12 on. */
export const OLDEST_KUBERNETES: KubernetesVersion = { major: 1, minor: 12 };

export class KubernetesVersionError extends AuditError<"bad-version"> {
  constructor(message: string) {
    super("bad-version", message);
  }
}

export function formatVersion(v: KubernetesVersion): string {
  return `${v.major}.${v.minor}`;
}

/**
 * Parses "1.20", "v1.20.2", "1.36.0-rc.1" or "newest". A release older than
 * OLDEST_KUBERNETES is refused; one newer than NEWEST_KUBERNETES is taken as NEWEST (no
 * later change is known).
 */
export function parseKubernetesVersion(text: string): KubernetesVersion {
  const t = text.trim();
  if (t === "newest" || t === "latest") return NEWEST_KUBERNETES;
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?$/.exec(t);
  if (!m) {
    throw new KubernetesVersionError(
      `"${text}" is not a Kubernetes version (expected e.g. 1.20 or v1.20.2, or "newest")`,
    );
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 1) throw new KubernetesVersionError(`"${text}": only Kubernetes 1.x is known`);
  if (minor < OLDEST_KUBERNETES.minor) {
    throw new KubernetesVersionError(
      `Kubernetes ${major}.${minor} is older than ${formatVersion(OLDEST_KUBERNETES)}, the first release with audit.k8s.io/v1; kubetrail does not support it`,
    );
  }
  return minor > NEWEST_KUBERNETES.minor ? NEWEST_KUBERNETES : { major: 1, minor };
}

/** What a release that lacks a feature does with a policy using it. */
export type MissingEffect = "refused" | "ignored";

/** One use of a version-dependent part of the Policy, with the releases that honour it. */
export interface VersionedUse {
  field: string;
  /** The first release that honours it. */
  since?: number;
  /** The first release that no longer does (audit.k8s.io/v1beta1). */
  removedIn?: number;
  /** Releases without it refuse the file (the apiserver does not start) or ignore the field. */
  effect: MissingEffect;
  what: string;
}

/** Releases in which the audit Policy changed in a way a policy author can trip over. */
export const POLICY_FEATURES = {
  /** audit.k8s.io/v1beta1 (and v1alpha1) policies: removed in 1.24. */
  v1beta1RemovedIn: 24,
  /** omitManagedFields, policy-wide and per rule: 1.23. Older releases ignore the field. */
  omitManagedFields: 23,
  /** A resources entry with group "*" matches every API group: 1.36. Older releases refuse the file. */
  groupWildcard: 36,
} as const;

/** Every version-dependent part `policy` uses, whatever the target release. */
export function versionedUses(policy: Policy): VersionedUse[] {
  const out: VersionedUse[] = [];
  if (policy.apiVersion === "audit.k8s.io/v1beta1") {
    out.push({
      field: "apiVersion",
      removedIn: POLICY_FEATURES.v1beta1RemovedIn,
      effect: "refused",
      what: "audit.k8s.io/v1beta1 (use audit.k8s.io/v1)",
    });
  }
  const omf = (field: string): VersionedUse => ({
    field,
    since: POLICY_FEATURES.omitManagedFields,
    effect: "ignored",
    what: "omitManagedFields",
  });
  if (policy.omitManagedFields) out.push(omf("omitManagedFields"));
  policy.rules.forEach((r, i) => {
    if (r.omitManagedFields === true) out.push(omf(`rules[${i}].omitManagedFields`));
    r.resources.forEach((g, j) => {
      if (g.group !== "*") return;
      out.push({
        field: `rules[${i}].resources[${j}].group`,
        since: POLICY_FEATURES.groupWildcard,
        effect: "refused",
        what: 'group "*" (every API group)',
      });
    });
  });
  return out;
}

export interface VersionCheck {
  /** What the target release refuses: with these the apiserver does not start. */
  errors: FieldProblem[];
  /** What the target ignores, and (without an explicit target) what older releases refuse. */
  warnings: FieldProblem[];
}

/**
 * Checks `policy` against the `target` release. A policy with no errors and no warnings
 * means the same on that release as kubetrail evaluates it. Without an `explicit` target
 * (the newest is assumed), what older releases would refuse is still worth a warning.
 */
export function checkPolicyVersion(
  policy: Policy,
  target: KubernetesVersion,
  explicit: boolean,
): VersionCheck {
  const v = formatVersion(target);
  const check: VersionCheck = { errors: [], warnings: [] };
  for (const use of versionedUses(policy)) {
    const missing =
      (use.since !== undefined && target.minor < use.since) ||
      (use.removedIn !== undefined && target.minor >= use.removedIn);
    const range =
      use.since !== undefined
        ? `needs Kubernetes 1.${use.since}`
        : `was removed in Kubernetes 1.${use.removedIn}`;
    if (missing && use.effect === "refused") {
      check.errors.push(
        problem(use.field, `${use.what} ${range}: a ${v} apiserver refuses this policy and does not start`),
      );
    } else if (missing) {
      check.warnings.push(
        problem(use.field, `${use.what} ${range}: a ${v} apiserver ignores it without a word`),
      );
    } else if (!explicit && use.effect === "refused" && use.since !== undefined) {
      check.warnings.push(
        problem(
          use.field,
          `${use.what} ${range}: older apiservers refuse this policy and do not start (check with --kubernetes-version)`,
        ),
      );
    }
  }
  return check;
}
