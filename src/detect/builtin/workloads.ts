// Built-in rules about workloads and cluster structure: pod access, privileged pods,
// namespaces, admission webhooks and kube-system.
import type { AuditEvent } from "../../audit/types.js";
import { isRecord } from "../../json/record.js";
import type { Rule } from "../types.js";
import {
  WRITE_VERBS,
  authorized,
  get,
  isSystemUser,
  records,
  requestBody,
  resourceIs,
  succeeded,
} from "./facts.js";

// Where each workload kind keeps its pod spec, so a privileged Deployment is caught at the
// source rather than only when its pods appear.
const POD_SPEC_PATHS: Record<string, string[]> = {
  pods: ["spec"],
  deployments: ["spec", "template", "spec"],
  daemonsets: ["spec", "template", "spec"],
  statefulsets: ["spec", "template", "spec"],
  replicasets: ["spec", "template", "spec"],
  replicationcontrollers: ["spec", "template", "spec"],
  jobs: ["spec", "template", "spec"],
  cronjobs: ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** Names the host-level powers a pod spec asks for; empty when it asks for none. */
export function hostPowers(spec: unknown): string[] {
  if (!isRecord(spec)) return [];
  const found: string[] = [];
  for (const flag of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (spec[flag] === true) found.push(flag);
  }
  if (records(spec.volumes).some((v) => isRecord(v.hostPath))) found.push("hostPath");
  const containers = [
    ...records(spec.containers),
    ...records(spec.initContainers),
    ...records(spec.ephemeralContainers),
  ];
  if (containers.some((c) => get(c, "securityContext", "privileged") === true)) found.push("privileged");
  return found;
}

function podSpecOf(e: AuditEvent): unknown {
  const path = POD_SPEC_PATHS[e.objectRef?.resource ?? ""];
  return path ? get(requestBody(e), ...path) : undefined;
}

// Each rule's verbs, once: the engine's index and the rule's own check read the same set.
const DELETE_VERBS = new Set(["delete"]);
const EXEC_VERBS = new Set(["create", "get"]); // WebSocket clients use GET, SPDY clients POST
const POD_STREAMS = new Set(["exec", "attach", "portforward"]);
const EPHEMERAL_VERBS = new Set(["update", "patch"]);
const POD_WRITE_VERBS = new Set(["create", "update"]);
const WEBHOOK_CHANGE_VERBS = new Set(["update", "patch", "delete", "deletecollection"]);

export const workloadRules: Rule[] = [
  {
    id: "namespace-deleted",
    resources: new Set(["namespaces"]),
    verbs: DELETE_VERBS,
    title: "Namespace deleted",
    severity: "high",
    description: "A Namespace was deleted, taking every object in it.",
    source: "builtin",
    match: (e) =>
      resourceIs(e, "namespaces") && !e.objectRef?.subresource && DELETE_VERBS.has(e.verb) && succeeded(e),
  },
  {
    id: "pod-exec",
    resources: new Set(["pods"]),
    verbs: EXEC_VERBS,
    title: "Exec, attach or port-forward into a pod",
    severity: "medium",
    description:
      "Someone was allowed to open a shell in, attach to or port-forward into a pod (the alert says whether it then succeeded).",
    source: "builtin",
    // An attempt is what matters, as in Falco: whether the container could then be reached
    // (the kubelet, the pod's state) does not change what the user set out to do. Refused
    // attempts are the 403 signals' (forbidden-burst).
    reportsOutcome: true,
    needs: (d) => POD_STREAMS.has(d.subresource ?? ""),
    match: (e) =>
      resourceIs(e, "pods") &&
      POD_STREAMS.has(e.objectRef?.subresource ?? "") &&
      EXEC_VERBS.has(e.verb) &&
      authorized(e),
  },
  {
    id: "ephemeral-container",
    resources: new Set(["pods"]),
    verbs: EPHEMERAL_VERBS,
    title: "Ephemeral container added",
    severity: "medium",
    description: "An ephemeral (debug) container was added to a running pod.",
    source: "builtin",
    match: (e) =>
      resourceIs(e, "pods") &&
      e.objectRef?.subresource === "ephemeralcontainers" &&
      EPHEMERAL_VERBS.has(e.verb) &&
      succeeded(e),
  },
  {
    id: "privileged-pod",
    readsBodies: true,
    resources: new Set(Object.keys(POD_SPEC_PATHS)),
    verbs: POD_WRITE_VERBS,
    title: "Privileged or host-access pod created",
    severity: "high",
    description:
      "A pod or workload was created or changed with privileged containers or hostPath, hostNetwork, hostPID or hostIPC.",
    source: "builtin",
    match: (e) =>
      POD_WRITE_VERBS.has(e.verb) &&
      !e.objectRef?.subresource &&
      succeeded(e) &&
      hostPowers(podSpecOf(e)).length > 0,
  },
  {
    id: "admission-webhook-changed",
    resources: new Set(["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]),
    verbs: WEBHOOK_CHANGE_VERBS,
    title: "Admission webhook configuration changed or deleted",
    severity: "high",
    description:
      "A ValidatingWebhookConfiguration or MutatingWebhookConfiguration was changed or deleted, which can switch off admission controls.",
    source: "builtin",
    match: (e) =>
      resourceIs(e, "validatingwebhookconfigurations", "mutatingwebhookconfigurations") &&
      WEBHOOK_CHANGE_VERBS.has(e.verb) &&
      succeeded(e),
  },
  {
    id: "kube-system-change",
    verbs: WRITE_VERBS,
    title: "Change in kube-system by a non-system user",
    severity: "medium",
    description: "A person (not a system component) created, changed or deleted an object in kube-system.",
    source: "builtin",
    needs: (d) => d.namespace === "kube-system" && !d.system,
    match: (e) =>
      e.objectRef?.namespace === "kube-system" && WRITE_VERBS.has(e.verb) && succeeded(e) && !isSystemUser(e),
  },
];
