import { describe, expect, it } from "vitest";
import { readDocuments } from "./documents.js";
import { evaluatePolicies } from "./evaluate.js";
import { policiesFromDocuments, type PolicySet } from "./policy/load.js";
import type { LoadedPolicy } from "./policy/policy.js";
import { GuardError, type AdmissionRequest } from "./types.js";

function load(text: string, builtins = false): PolicySet {
  return policiesFromDocuments(readDocuments(text, "policies.yaml"), { builtins });
}

function refusal(text: string): string {
  try {
    load(text);
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    return (err as GuardError).message;
  }
  throw new Error("policies were accepted");
}

function podRequest(spec: Record<string, unknown>, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: "uid-1",
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource: "pods" },
    subResource: "",
    name: "web",
    namespace: "team-a",
    operation: "CREATE",
    userInfo: { username: "alice", groups: ["devs", "system:authenticated"] },
    object: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "team-a", labels: { app: "web" } },
      spec,
    },
    oldObject: null,
    dryRun: false,
    ...over,
  };
}

const PRIVILEGED = { containers: [{ name: "c", image: "nginx:1", securityContext: { privileged: true } }] };
const PLAIN = { containers: [{ name: "c", image: "nginx:1" }] };
/** Passes every built-in: restricted, pinned by digest, no credentials. */
const RESTRICTED_SPEC = {
  securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
  containers: [
    {
      name: "c",
      image: `registry.example.com/app:1@sha256:${"ab".repeat(32)}`,
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
    },
  ],
};
const NOW = Date.parse("2026-03-01T00:00:00Z");

function decide(
  set: PolicySet | LoadedPolicy[],
  r: AdmissionRequest,
  nowMs = NOW,
  namespaceObject: Record<string, unknown> | null = null,
) {
  return evaluatePolicies(Array.isArray(set) ? set : set.policies, r, { nowMs, namespaceObject });
}

const NO_PRIVILEGED = `
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata:
  name: no-privileged
spec:
  mode: enforce
  match:
    resources:
      - kinds: [Pod]
  validations:
    - expression: "object.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || !c.securityContext.privileged)"
      messageExpression: "'privileged containers are not allowed: ' + object.spec.containers.filter(c, has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged).map(c, c.name).join(', ')"
      fieldPath: spec.containers
`;

describe("GuardPolicy with CEL validations", () => {
  it("denies in enforce mode with the message expression's text", () => {
    const d = decide(load(NO_PRIVILEGED), podRequest(PRIVILEGED));
    expect(d.allowed).toBe(false);
    expect(d.result).toBe("deny");
    expect(d.message).toBe("[no-privileged] privileged containers are not allowed: c (spec.containers)");
    expect(d.policies[0]).toMatchObject({
      policy: "no-privileged",
      status: "fail",
      effects: ["deny"],
      modes: ["enforce"],
    });
    expect(d.policies[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("allows what passes, and leaves out policies that do not match", () => {
    expect(decide(load(NO_PRIVILEGED), podRequest(PLAIN))).toMatchObject({ allowed: true, result: "allow" });
    const cm = podRequest(PLAIN, {
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      resource: { group: "", version: "v1", resource: "configmaps" },
    });
    expect(decide(load(NO_PRIVILEGED), cm).policies).toEqual([]);
  });

  it("warn mode allows with a warning, audit mode only records", () => {
    const warn = decide(load(NO_PRIVILEGED.replace("mode: enforce", "mode: warn")), podRequest(PRIVILEGED));
    expect(warn).toMatchObject({
      allowed: true,
      result: "warn",
      warnings: ["[no-privileged] privileged containers are not allowed: c (spec.containers)"],
    });
    const audit = decide(load(NO_PRIVILEGED.replace("mode: enforce", "mode: audit")), podRequest(PRIVILEGED));
    expect(audit).toMatchObject({ allowed: true, result: "audit", warnings: [] });
    expect(audit.policies[0]!.effects).toEqual(["audit"]);
    expect(
      decide(load(NO_PRIVILEGED.replace("mode: enforce", "mode: off")), podRequest(PRIVILEGED)).policies,
    ).toEqual([]);
  });

  it("the hash changes with what the policy checks, not with formatting", () => {
    const a = load(NO_PRIVILEGED).policies[0]!.hash;
    const b = load(NO_PRIVILEGED.replace("mode: enforce", "mode:    enforce   # comment")).policies[0]!.hash;
    const c = load(NO_PRIVILEGED.replace("kinds: [Pod]", "kinds: [Pod, PodTemplate]")).policies[0]!.hash;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it("matches by namespace, namespace labels, object labels and subjects", () => {
    const policy = (match: string) =>
      load(`
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: p}
spec:
  match:
    resources: [{kinds: [Pod]}]
${match}
  validations: [{expression: "false", message: no}]
`);
    const r = podRequest(PLAIN);
    const ns = (labels: Record<string, string>) => ({
      kind: "Namespace",
      metadata: { name: "team-a", labels },
    });
    expect(decide(policy("    namespaces: [team-*]"), r).allowed).toBe(false);
    expect(decide(policy("    namespaces: [prod]"), r).allowed).toBe(true);
    expect(decide(policy("    excludeNamespaces: [team-a]"), r).allowed).toBe(true);
    expect(
      decide(policy("    namespaceSelector: {matchLabels: {env: prod}}"), r, NOW, ns({ env: "prod" }))
        .allowed,
    ).toBe(false);
    expect(
      decide(policy("    namespaceSelector: {matchLabels: {env: prod}}"), r, NOW, ns({ env: "dev" })).allowed,
    ).toBe(true);
    expect(
      decide(
        policy("    namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [dev]}]}"),
        r,
        NOW,
        null,
      ).allowed,
    ).toBe(false);
    expect(decide(policy("    objectSelector: {matchLabels: {app: web}}"), r).allowed).toBe(false);
    expect(decide(policy("    objectSelector: {matchLabels: {app: db}}"), r).allowed).toBe(true);
    expect(decide(policy("    groups: [devs]"), r).allowed).toBe(false);
    expect(decide(policy("    users: [bob]"), r).allowed).toBe(true);
    expect(decide(policy("    excludeUsers: [ali*]"), r).allowed).toBe(true);
    const sa = podRequest(PLAIN, { userInfo: { username: "system:serviceaccount:ci:deployer", groups: [] } });
    expect(decide(policy("    serviceAccounts: [ci/*]"), sa).allowed).toBe(false);
    expect(decide(policy("    serviceAccounts: [other/*]"), sa).allowed).toBe(true);
  });

  it("variables, matchConditions and inline params", () => {
    const set = load(`
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: replicas}
spec:
  match: {resources: [{kinds: [Deployment], apiGroups: [apps]}]}
  params: {max: 3}
  matchConditions:
    - name: not-system
      expression: "!request.userInfo.username.startsWith('system:')"
  variables:
    - name: replicas
      expression: "has(object.spec.replicas) ? object.spec.replicas : 1"
  validations:
    - expression: "variables.replicas <= params.max"
      messageExpression: "'replicas ' + string(variables.replicas) + ' exceed ' + string(params.max)"
`);
    const dep = (replicas: number, username = "alice") =>
      podRequest(PLAIN, {
        kind: { group: "apps", version: "v1", kind: "Deployment" },
        resource: { group: "apps", version: "v1", resource: "deployments" },
        object: { kind: "Deployment", spec: { replicas } },
        userInfo: { username, groups: [] },
      });
    expect(decide(set, dep(5)).message).toBe("[replicas] replicas 5 exceed 3");
    expect(decide(set, dep(2)).allowed).toBe(true);
    expect(decide(set, dep(5, "system:admin")).policies).toEqual([]);
  });
});

describe("errors are the policy's, never the webhook's", () => {
  const failing = (failurePolicy: string) =>
    load(`
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: broken}
spec:
  failurePolicy: ${failurePolicy}
  match: {resources: [{kinds: [Pod]}]}
  validations: [{expression: "object.spec.nothere.size() == 0"}]
`);
  it("failurePolicy Fail denies, saying why", () => {
    const d = decide(failing("Fail"), podRequest(PLAIN));
    expect(d.allowed).toBe(false);
    expect(d.policies[0]).toMatchObject({ status: "error", effects: ["deny"] });
    expect(d.message).toMatch(/broken.*could not be evaluated.*nothere/);
  });
  it("failurePolicy Ignore allows and records the error", () => {
    const d = decide(failing("Ignore"), podRequest(PLAIN));
    expect(d).toMatchObject({ allowed: true, result: "allow" });
    expect(d.policies[0]).toMatchObject({ status: "error", effects: [] });
    expect(d.policies[0]!.error).toMatch(/nothere/);
  });
  it("a policy whose code throws is an error for it alone", () => {
    const throwing: LoadedPolicy = {
      ...load(NO_PRIVILEGED).policies[0]!,
      name: "thrower",
      check() {
        throw new Error("boom");
      },
    };
    const d = decide([throwing, ...load(NO_PRIVILEGED).policies], podRequest(PRIVILEGED));
    expect(d.policies.map((p) => [p.policy, p.status])).toEqual([
      ["thrower", "error"],
      ["no-privileged", "fail"],
    ]);
    expect(d.policies[0]!.error).toBe("policy threw: boom");
  });
  it("a variable that fails is an error only for the validations that read it", () => {
    const set = load(`
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: vars}
spec:
  failurePolicy: Fail
  match: {resources: [{kinds: [Pod]}]}
  variables:
    - {name: bad, expression: "object.spec.nothere"}
    - {name: good, expression: "size(object.spec.containers)"}
  validations:
    - {expression: "variables.good < 1", message: too many containers}
`);
    expect(decide(set, podRequest(PLAIN)).message).toBe("[vars] too many containers");
  });
  it("a non-bool validation is an error", () => {
    const set = load(
      NO_PRIVILEGED.replace(/expression: "object.spec.containers.all[^\n]*/, 'expression: "1"'),
    );
    expect(decide(set, podRequest(PLAIN)).policies[0]).toMatchObject({
      status: "error",
      error: expect.stringMatching(/bool/),
    });
  });
});

const EXCEPTIONS = `
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: pss}
spec:
  builtin: pss-baseline
  mode: enforce
  exceptions:
    - name: legacy-agent
      owner: platform@example.com
      expires: "2026-04-01T00:00:00Z"
      reason: node agent until its rewrite
      namespaces: [team-a]
      objects: [{kind: Pod, name: "web*"}]
    - name: only-ports
      owner: net@example.com
      expires: "2027-01-01"
      namespaces: [team-b]
      checks: [hostPorts]
`;

describe("exceptions", () => {
  it("waives a failure until it expires, recording the exception and what it would have been", () => {
    const set = load(EXCEPTIONS);
    const before = decide(set, podRequest(PRIVILEGED), Date.parse("2026-03-31T23:59:59Z"));
    expect(before.allowed).toBe(true);
    expect(before.policies[0]).toMatchObject({
      status: "excepted",
      effects: [],
      wouldHaveBeen: ["deny"],
      exception: {
        name: "legacy-agent",
        owner: "platform@example.com",
        expires: "2026-04-01T00:00:00Z",
        reason: "node agent until its rewrite",
      },
    });
    // Same loaded policy, later clock: no reload needed for the expiry to bite.
    const after = decide(set, podRequest(PRIVILEGED), Date.parse("2026-04-01T00:00:00Z"));
    expect(after.allowed).toBe(false);
    expect(after.policies[0]!.exception).toBeUndefined();
  });
  it("applies only where all its scopes match", () => {
    const set = load(EXCEPTIONS);
    expect(decide(set, podRequest(PRIVILEGED, { name: "db" })).allowed).toBe(false);
    expect(decide(set, podRequest(PRIVILEGED, { namespace: "team-c" })).allowed).toBe(false);
  });
  it("an exception limited to some checks waives a failure only when it covers every failed check", () => {
    const set = load(EXCEPTIONS);
    const ports = { containers: [{ name: "c", image: "x", ports: [{ containerPort: 80, hostPort: 80 }] }] };
    expect(decide(set, podRequest(ports, { namespace: "team-b" })).policies[0]!.status).toBe("excepted");
    const both = {
      containers: [
        {
          name: "c",
          image: "x",
          ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true },
        },
      ],
    };
    expect(decide(set, podRequest(both, { namespace: "team-b" })).allowed).toBe(false);
  });
});

describe("what policies share of a request", () => {
  it("is derived once per request and never carried over to the next", () => {
    const seen: string[] = [];
    let derivations = 0;
    const specOf = (r: AdmissionRequest) => {
      derivations++;
      return JSON.stringify(r.object?.["spec"]);
    };
    const reader = (name: string): LoadedPolicy => ({
      ...load(NO_PRIVILEGED).policies[0]!,
      name,
      check(input) {
        seen.push(`${name}: ${input.shared(specOf)}`);
        return { violations: [] };
      },
    });
    const set = [reader("a"), reader("b")];
    decide(set, podRequest(PRIVILEGED));
    expect(derivations).toBe(1);
    decide(set, podRequest(PLAIN));
    expect(derivations).toBe(2);
    expect(seen).toEqual([
      `a: ${JSON.stringify(PRIVILEGED)}`,
      `b: ${JSON.stringify(PRIVILEGED)}`,
      `a: ${JSON.stringify(PLAIN)}`,
      `b: ${JSON.stringify(PLAIN)}`,
    ]);
  });
  it("the built-ins judge each request's own pod template, review after review", () => {
    const set = load("", true);
    const bad = decide(set, podRequest(PRIVILEGED));
    const good = decide(set, podRequest(RESTRICTED_SPEC));
    const deployment = decide(
      set,
      podRequest(
        {},
        {
          kind: { group: "apps", version: "v1", kind: "Deployment" },
          resource: { group: "apps", version: "v1", resource: "deployments" },
          object: { kind: "Deployment", spec: { template: { metadata: {}, spec: PRIVILEGED } } },
        },
      ),
    );
    const failures = (d: ReturnType<typeof decide>) =>
      d.policies.flatMap((p) => p.violations.map((v) => `${p.policy} ${v.field ?? ""}`));
    expect(failures(bad)).toContain("pss-baseline spec.containers[0].securityContext.privileged");
    expect(failures(good)).toEqual([]);
    expect(failures(deployment)).toContain(
      "pss-baseline spec.template.spec.containers[0].securityContext.privileged",
    );
    expect(failures(deployment).filter((f) => !f.includes(" spec.template.spec."))).toEqual([]);
  });
});

describe("built-ins", () => {
  it("are on by default in audit mode", () => {
    const set = load("", true);
    expect(set.policies.map((p) => [p.name, p.modes])).toEqual([
      ["pss-baseline", ["audit"]],
      ["pss-restricted", ["audit"]],
      ["images", ["audit"]],
      ["no-credentials", ["audit"]],
      ["no-cluster-admin", ["audit"]],
    ]);
    const d = decide(set, podRequest(PRIVILEGED));
    expect(d).toMatchObject({ allowed: true, result: "audit" });
  });
  it("a GuardPolicy naming a built-in replaces its default instance, and mode off removes it", () => {
    const set = load(
      `
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: registries}
spec:
  builtin: images
  mode: warn
  settings: {allowedRegistries: [registry.example.com], requireDigest: false}
---
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: pss-restricted}
spec: {builtin: pss-restricted, mode: "off"}
`,
      true,
    );
    expect(set.policies.map((p) => p.name)).toEqual([
      "registries",
      "pss-restricted",
      "pss-baseline",
      "no-credentials",
      "no-cluster-admin",
    ]);
    const d = decide(set, podRequest(PLAIN));
    expect(d.result).toBe("warn");
    expect(d.warnings).toEqual([
      '[registries] container "c" image nginx:1 is not from an allowed registry (registry.example.com) (spec.containers[0].image)',
    ]);
  });
});

const VAP = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit.example.com
spec:
  failurePolicy: Fail
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments"]
  validations:
    - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
      messageExpression: "'object.spec.replicas must be no greater than ' + params.data.maxReplicas"
      reason: Invalid
  auditAnnotations:
    - key: high-replica-count
      valueExpression: "object.spec.replicas > 50 ? 'Deployment spec.replicas set to ' + string(object.spec.replicas) : null"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit-binding.example.com
spec:
  policyName: replica-limit.example.com
  validationActions: [Deny]
  paramRef:
    name: replica-limit
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
---
apiVersion: v1
kind: ConfigMap
metadata: {name: replica-limit, namespace: team-a}
data: {maxReplicas: "3"}
`;

describe("ValidatingAdmissionPolicy + binding, unchanged", () => {
  const deployment = (replicas: number, namespace = "team-a") =>
    podRequest(PLAIN, {
      namespace,
      kind: { group: "apps", version: "v1", kind: "Deployment" },
      resource: { group: "apps", version: "v1", resource: "deployments" },
      object: { kind: "Deployment", metadata: { name: "d", namespace }, spec: { replicas } },
    });
  const testNs = (name: string) => ({
    kind: "Namespace",
    metadata: { name, labels: { environment: "test" } },
  });

  it("denies with the policy's message, reason and Kubernetes' wording, params from the request's namespace", () => {
    const d = decide(load(VAP), deployment(5), NOW, testNs("team-a"));
    expect(d.allowed).toBe(false);
    expect(d.message).toBe(
      "ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding.example.com' denied request: object.spec.replicas must be no greater than 3",
    );
    expect(d.policies[0]).toMatchObject({
      binding: "replica-limit-binding.example.com",
      violations: [{ reason: "Invalid" }],
    });
  });
  it("evaluates audit annotations", () => {
    const d = decide(
      load(VAP.replace('maxReplicas: "3"', 'maxReplicas: "100"')),
      deployment(60),
      NOW,
      testNs("team-a"),
    );
    expect(d.allowed).toBe(true);
    expect(d.policies[0]!.auditAnnotations).toEqual({
      "high-replica-count": "Deployment spec.replicas set to 60",
    });
  });
  it("the binding's namespace selector narrows it", () => {
    expect(
      decide(load(VAP), deployment(5), NOW, { kind: "Namespace", metadata: { name: "team-a", labels: {} } })
        .policies,
    ).toEqual([]);
  });
  it("parameterNotFoundAction decides when no param is found", () => {
    expect(decide(load(VAP), deployment(1, "team-z"), NOW, testNs("team-z")).message).toMatch(
      /no params found for paramRef replica-limit/,
    );
    const allow = load(VAP.replace("parameterNotFoundAction: Deny", "parameterNotFoundAction: Allow"));
    expect(decide(allow, deployment(1, "team-z"), NOW, testNs("team-z")).allowed).toBe(true);
  });
  it("validationActions [Warn, Audit] warn in Kubernetes' words", () => {
    const d = decide(
      load(VAP.replace("validationActions: [Deny]", "validationActions: [Warn, Audit]")),
      deployment(5),
      NOW,
      testNs("team-a"),
    );
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual([
      "Validation failed for ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding.example.com': object.spec.replicas must be no greater than 3",
    ]);
    expect(d.policies[0]!.effects).toEqual(["warn", "audit"]);
  });
  it("a policy without a binding is not evaluated, with a warning", () => {
    const set = load(VAP.split("---")[0]! + "---" + VAP.split("---")[2]!);
    expect(set.policies).toEqual([]);
    expect(set.warnings[0]).toMatch(/no ValidatingAdmissionPolicyBinding refers to it/);
  });
});

describe("refused at load, every problem with file and line", () => {
  it("authorizer, optional syntax and unsupported functions", () => {
    const msg = refusal(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: uses-authorizer}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations:
    - expression: "authorizer.group('').resource('pods').check('create').allowed()"
    - expression: "object.?spec.?x.orValue(1) == 1"
    - expression: "semver('1.2.3').isGreaterThan(semver('1.0.0'))"
`);
    expect(msg).toContain(
      "policies.yaml:2: ValidatingAdmissionPolicy uses-authorizer: spec.validations[0].expression: cannot be evaluated: `authorizer`",
    );
    expect(msg).toContain("spec.validations[1].expression: cannot be evaluated: optional syntax");
    expect(msg).toContain(
      "spec.validations[2].expression: cannot be evaluated: unsupported function semver()",
    );
  });
  it("bindings to missing policies, unknown kinds, bad exceptions and modes", () => {
    const msg = refusal(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec: {policyName: missing, validationActions: [Deny]}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
---
apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: p}
spec:
  mode: block
  match: {resources: [{kinds: [Pod]}]}
  validations: [{expression: "true"}]
  exceptions: [{name: e, namespaces: [x]}]
`);
    expect(msg).toContain(
      'policies.yaml:2: ValidatingAdmissionPolicyBinding b: spec.policyName: no ValidatingAdmissionPolicy named "missing" is loaded',
    );
    expect(msg).toContain("policies.yaml:7: Secret s: not a policy");
    expect(msg).toContain("policies.yaml:11: GuardPolicy p: spec.mode: must be enforce, warn, audit or off");
    expect(msg).toContain("spec.exceptions[0].owner: required");
    expect(msg).toContain("spec.exceptions[0].expires: required");
  });
  it("Deny with Warn, a missing paramRef, and typos", () => {
    const msg = refusal(
      VAP.replace("validationActions: [Deny]", "validationActions: [Deny, Warn]").replace(
        "    parameterNotFoundAction: Deny\n",
        "    parameterNotFoundAction: Deny\n    nmae: x\n",
      ),
    );
    expect(msg).toContain("Deny and Warn together are not allowed");
    expect(msg).toContain("spec.paramRef.nmae: unknown field");
  });
});
