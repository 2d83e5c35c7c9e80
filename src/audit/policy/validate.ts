// The apiserver's audit policy validation (pkg/apis/audit/validation), same rules and the
// same field paths, so a policy kubetrail accepts is one the kube-apiserver accepts.
import { LEVELS, STAGES } from "../types.js";
import { problem, type FieldProblem } from "./errors.js";
import type { GroupResources, Policy, PolicyRule } from "./types.js";

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX = 253;

/** Returns every validation problem of the policy; an empty list means the apiserver would accept it. */
export function validatePolicy(policy: Policy): FieldProblem[] {
  const errs = validateOmitStages(policy.omitStages, "omitStages");
  policy.rules.forEach((rule, i) => errs.push(...validateRule(rule, `rules[${i}]`)));
  return errs;
}

function validateRule(rule: PolicyRule, path: string): FieldProblem[] {
  const errs: FieldProblem[] = [];
  if (rule.level === ("" as string)) errs.push(problem(`${path}.level`, "required value"));
  else if (!LEVELS.includes(rule.level)) {
    errs.push(
      problem(
        `${path}.level`,
        `unsupported value ${JSON.stringify(rule.level)}: supported values: ${LEVELS.map((l) => `"${l}"`).join(", ")}`,
      ),
    );
  }
  errs.push(...validateNonResourceURLs(rule.nonResourceURLs, `${path}.nonResourceURLs`));
  errs.push(...validateResources(rule.resources, `${path}.resources`));
  errs.push(...validateOmitStages(rule.omitStages, `${path}.omitStages`));
  if (rule.nonResourceURLs.length > 0 && (rule.resources.length > 0 || rule.namespaces.length > 0)) {
    errs.push(
      problem(
        `${path}.nonResourceURLs`,
        "rules cannot apply to both regular resources (resources, namespaces) and non-resource URLs",
      ),
    );
  }
  return errs;
}

function validateNonResourceURLs(urls: string[], path: string): FieldProblem[] {
  const errs: FieldProblem[] = [];
  urls.forEach((url, i) => {
    if (url === "*") return;
    const p = `${path}[${i}]`;
    if (!url.startsWith("/")) {
      errs.push(
        problem(
          p,
          `invalid value ${JSON.stringify(url)}: non-resource URL rules must begin with a '/' character`,
        ),
      );
    }
    if (url !== "" && url.slice(0, -1).includes("*")) {
      errs.push(
        problem(
          p,
          `invalid value ${JSON.stringify(url)}: non-resource URL wildcards '*' must be the final character of the rule`,
        ),
      );
    }
  });
  return errs;
}

function validateResources(groups: GroupResources[], path: string): FieldProblem[] {
  const errs: FieldProblem[] = [];
  groups.forEach((gr, i) => {
    const p = `${path}[${i}]`;
    // The empty group is the core API group and "*" every group (Kubernetes 1.36; older
    // releases refuse it, which versions.ts reports); any other must be a DNS subdomain (no "/v1").
    if (
      gr.group !== "" &&
      gr.group !== "*" &&
      (gr.group.length > DNS1123_SUBDOMAIN_MAX || !DNS1123_SUBDOMAIN.test(gr.group))
    ) {
      errs.push(
        problem(
          `${p}.group`,
          `invalid value ${JSON.stringify(gr.group)}: an API group must be a lowercase RFC 1123 subdomain of at most 253 characters (a group name without version, e.g. rbac.authorization.k8s.io)`,
        ),
      );
    }
    if (gr.resourceNames.length > 0 && gr.resources.length === 0) {
      errs.push(problem(`${p}.resourceNames`, "using resourceNames requires at least one resource"));
    }
  });
  return errs;
}

function validateOmitStages(stages: string[], path: string): FieldProblem[] {
  const errs: FieldProblem[] = [];
  stages.forEach((stage, i) => {
    if (!(STAGES as readonly string[]).includes(stage)) {
      errs.push(
        problem(
          `${path}[${i}]`,
          `invalid value ${JSON.stringify(stage)}: allowed stages are ${STAGES.join(",")}`,
        ),
      );
    }
  });
  return errs;
}
