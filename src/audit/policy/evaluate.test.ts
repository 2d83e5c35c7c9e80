// Every case of the apiserver's checker_test.go (TestChecker, TestCheckerPolicyOmitStages,
// TestUnionStages, TestOmitManagedFields) as of Kubernetes 1.36, restated as tables.
import { describe, expect, it } from "vitest";
import type { Level, Stage } from "../types.js";
import { createPolicyEvaluator, pathMatches, unionStages } from "./evaluate.js";
import { makePolicy, makeRule } from "../../../test/fixtures/policy/policy-builders.js";
import type { PolicyRule, RequestAttributes } from "./types.js";

const tim = { name: "tim@k8s.io", groups: ["humans", "developers"] };
const base = { namespace: "", apiGroup: "", resource: "", subresource: "", name: "", path: "" };

const requests: Record<string, RequestAttributes> = {
  namespaced: {
    ...base,
    user: tim,
    verb: "get",
    namespace: "default",
    resource: "pods",
    name: "busybox",
    resourceRequest: true,
    path: "/api/v1/namespaces/default/pods/busybox",
  },
  cluster: {
    ...base,
    user: tim,
    verb: "get",
    apiGroup: "rbac.authorization.k8s.io",
    resource: "clusterroles",
    name: "edit",
    resourceRequest: true,
    path: "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit",
  },
  nonResource: { ...base, user: tim, verb: "get", resourceRequest: false, path: "/logs/kubelet.log" },
  subresource: {
    ...base,
    user: tim,
    verb: "get",
    namespace: "default",
    resource: "pods",
    subresource: "log",
    name: "busybox",
    resourceRequest: true,
    path: "/api/v1/namespaces/default/pods/busybox",
  },
  Unauthorized: {
    ...base,
    verb: "get",
    namespace: "default",
    resource: "pods",
    name: "busybox",
    resourceRequest: true,
    path: "/api/v1/namespaces/default/pods/busybox",
  },
  ClusterRoleUpdate: {
    ...base,
    user: tim,
    verb: "update",
    apiGroup: "rbac.authorization.k8s.io",
    resource: "clusterroles",
    subresource: "status",
    name: "somerole",
    resourceRequest: true,
    path: "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/somerole",
  },
};

const gr = (resources: string[], group = "", resourceNames: string[] = []) => [
  { group, resources, resourceNames },
];

const rules: Record<string, PolicyRule> = {
  default: makeRule({ level: "Metadata" }),
  create: makeRule({ level: "Request", verbs: ["create"] }),
  tims: makeRule({ level: "Metadata", users: ["tim@k8s.io"] }),
  humans: makeRule({ level: "Metadata", userGroups: ["humans"] }),
  serviceAccounts: makeRule({ level: "Request", userGroups: ["system:serviceaccounts"] }),
  getPods: makeRule({ level: "RequestResponse", verbs: ["get"], resources: gr(["pods"]) }),
  getPodLogs: makeRule({ level: "Request", verbs: ["get"], resources: gr(["pods/log"]) }),
  getPodWildcardMatching: makeRule({ level: "Request", verbs: ["get"], resources: gr(["*"]) }),
  getPodResourceWildcardMatching: makeRule({ level: "Request", verbs: ["get"], resources: gr(["*/log"]) }),
  getPodSubResourceWildcardMatching: makeRule({
    level: "Request",
    verbs: ["get"],
    resources: gr(["pods/*"]),
  }),
  getClusterRoles: makeRule({
    level: "RequestResponse",
    verbs: ["get"],
    resources: gr(["clusterroles"], "rbac.authorization.k8s.io"),
    namespaces: [""],
  }),
  // Kubernetes 1.36: group "*" matches every API group.
  getGroupWildCardMatchingWithSubresourceWildcardMatching: makeRule({
    level: "RequestResponse",
    verbs: ["update"],
    resources: gr(["*/status"], "*"),
  }),
  getLogs: makeRule({ level: "RequestResponse", verbs: ["get"], nonResourceURLs: ["/logs*"] }),
  getMetrics: makeRule({ level: "Request", verbs: ["get"], nonResourceURLs: ["/metrics"] }),
  clusterRoleEdit: makeRule({
    level: "Request",
    resources: gr(["clusterroles"], "rbac.authorization.k8s.io", ["edit"]),
  }),
  "omit RequestReceived": makeRule({ level: "Request", omitStages: ["RequestReceived"] }),
  "only audit panic": makeRule({
    level: "Request",
    omitStages: ["RequestReceived", "ResponseStarted", "ResponseComplete"],
  }),
};

type Case = [request: string, level: Level, ...ruleNames: string[]];

const levelCases: Case[] = [
  ["namespaced", "Metadata", "default"],
  ["namespaced", "None", "create"],
  ["namespaced", "Metadata", "tims"],
  ["namespaced", "Metadata", "humans"],
  ["namespaced", "None", "serviceAccounts"],
  ["namespaced", "RequestResponse", "getPods"],
  ["namespaced", "None", "getClusterRoles"],
  ["namespaced", "None", "getLogs"],
  ["namespaced", "None", "getMetrics"],
  ["namespaced", "Metadata", "getMetrics", "serviceAccounts", "default"],
  ["namespaced", "RequestResponse", "getMetrics", "getPods", "default"],
  ["namespaced", "RequestResponse", "getPodLogs", "getPods"],

  ["cluster", "Metadata", "default"],
  ["cluster", "None", "create"],
  ["cluster", "Metadata", "tims"],
  ["cluster", "Metadata", "humans"],
  ["cluster", "None", "serviceAccounts"],
  ["cluster", "None", "getPods"],
  ["cluster", "RequestResponse", "getClusterRoles"],
  ["cluster", "Request", "clusterRoleEdit", "getClusterRoles"],
  ["cluster", "None", "getLogs"],
  ["cluster", "None", "getMetrics"],
  ["cluster", "Metadata", "getMetrics", "serviceAccounts", "default"],
  ["cluster", "RequestResponse", "getMetrics", "getClusterRoles", "default"],
  ["cluster", "None", "getPodLogs", "getPods"],

  ["nonResource", "Metadata", "default"],
  ["nonResource", "None", "create"],
  ["nonResource", "Metadata", "tims"],
  ["nonResource", "Metadata", "humans"],
  ["nonResource", "None", "serviceAccounts"],
  ["nonResource", "None", "getPods"],
  ["nonResource", "None", "getClusterRoles"],
  ["nonResource", "RequestResponse", "getLogs"],
  ["nonResource", "None", "getMetrics"],
  ["nonResource", "Metadata", "getMetrics", "serviceAccounts", "default"],
  ["nonResource", "RequestResponse", "getLogs", "getClusterRoles", "default"],
  ["nonResource", "None", "getPodLogs", "getPods"],

  ["subresource", "Request", "getPodLogs", "getPods"],
  ["subresource", "Request", "getPodWildcardMatching"],
  ["subresource", "Request", "getPodResourceWildcardMatching"],
  ["subresource", "Request", "getPodSubResourceWildcardMatching"],

  ["Unauthorized", "None", "tims"],
  ["Unauthorized", "Metadata", "tims", "default"],
  ["Unauthorized", "None", "humans"],
  ["Unauthorized", "Metadata", "humans", "default"],
  ["ClusterRoleUpdate", "RequestResponse", "getGroupWildCardMatchingWithSubresourceWildcardMatching"],
];

function check(request: string, ruleNames: string[], policyStages: Stage[]) {
  const policy = makePolicy(
    ruleNames.map((n) => {
      const r = rules[n];
      if (!r) throw new Error(`no rule ${n}`);
      return r;
    }),
    { omitStages: policyStages },
  );
  const attrs = requests[request];
  if (!attrs) throw new Error(`no request ${request}`);
  return createPolicyEvaluator(policy).evaluate(attrs);
}

const sorted = (s: Stage[]) => [...s].sort();

describe.each([
  ["no policy-level omitStages", [] as Stage[]],
  ["policy-level omitStages", ["RequestReceived", "ResponseStarted"] as Stage[]],
])("checker levels with %s", (_label, policyStages) => {
  it.each(levelCases)("%s gets %s from rules %s", (request, level, ...ruleNames) => {
    const got = check(request, ruleNames, policyStages);
    expect(got.level).toBe(level);
    expect(sorted(got.omitStages)).toEqual(sorted(policyStages));
  });
});

type StageCase = [
  request: string,
  level: Level,
  policyStages: Stage[],
  omit: Stage[],
  ...ruleNames: string[],
];
const RR: Stage = "RequestReceived";
const RS: Stage = "ResponseStarted";
const RC: Stage = "ResponseComplete";
const both: Stage[] = [RR, RS];

const stageCases: StageCase[] = [
  // TestChecker: rule-level omitStages.
  ["namespaced", "Request", [], [RR], "omit RequestReceived", "getPods", "default"],
  ["namespaced", "Request", [], [RR, RS, RC], "only audit panic", "getPods", "default"],
  ["cluster", "Request", [], [RR], "omit RequestReceived", "getPods", "default"],
  ["cluster", "Request", [], [RR, RS, RC], "only audit panic", "getPods", "default"],
  ["nonResource", "Request", [], [RR], "omit RequestReceived", "getPods", "default"],
  ["nonResource", "Request", [], [RR, RS, RC], "only audit panic", "getPods", "default"],
  // TestCheckerPolicyOmitStages: policy-level and rule-level omitStages are merged.
  ["namespaced", "Request", both, [RR, RS], "omit RequestReceived", "getPods", "default"],
  ["namespaced", "Request", both, [RR, RS, RC], "only audit panic", "getPods", "default"],
  ["cluster", "Request", both, [RR, RS], "omit RequestReceived", "getPods", "default"],
  ["cluster", "Request", both, [RR, RS, RC], "only audit panic", "getPods", "default"],
  ["nonResource", "Metadata", both, [RR, RS], "default", "omit RequestReceived", "getPods"],
  ["nonResource", "Request", both, [RR, RS, RC], "only audit panic", "getPods", "default"],
];

describe("checker omitStages", () => {
  it.each(stageCases)(
    "%s gets %s (policy stages %j → %j) from %s",
    (request, level, policyStages, omit, ...ruleNames) => {
      const got = check(request, ruleNames, policyStages);
      expect(got.level).toBe(level);
      expect(sorted(got.omitStages)).toEqual(sorted(omit));
    },
  );
});

describe("rule index", () => {
  it("reports the first matching rule, and null with level None when none matches", () => {
    expect(check("namespaced", ["getMetrics", "getPods", "default"], []).rule).toBe(1);
    expect(check("cluster", ["getPods"], [])).toEqual({
      level: "None",
      omitStages: [],
      omitManagedFields: false,
      rule: null,
    });
  });

  it("does not modify the policy it was built from", () => {
    const policy = makePolicy([makeRule({ level: "Request", omitStages: [RR] })], { omitStages: [RS] });
    createPolicyEvaluator(policy);
    expect(policy.rules[0]!.omitStages).toEqual([RR]);
  });
});

describe("unionStages (TestUnionStages)", () => {
  const P: Stage = "Panic";
  it.each([
    [[], [], []],
    [[RR], [], [RR]],
    [[RR], [RR], [RR]],
    [[RR], [RS], [RR, RS]],
    [[RR, RR], [RR, RR], [RR]],
    [
      [RR, RS],
      [P, RR],
      [RR, RS, P],
    ],
    [undefined, [RR], [RR]],
  ] as [Stage[] | undefined, Stage[], Stage[]][])("%j ∪ %j = %j", (a, b, want) => {
    expect(unionStages(a, b)).toEqual(want);
  });
});

describe("omitManagedFields precedence (TestOmitManagedFields)", () => {
  const attrs: RequestAttributes = { ...base, verb: "get", resourceRequest: false };
  it.each([
    ["policy false, rule unset", false, undefined, false],
    ["policy true, rule unset", true, undefined, true],
    ["policy true, rule false", true, false, false],
    ["policy false, rule true", false, true, true],
  ] as [string, boolean, boolean | undefined, boolean][])(
    "%s → %s",
    (_name, policyDefault, ruleValue, want) => {
      const rule = makeRule({ level: "RequestResponse", verbs: ["get"] });
      if (ruleValue !== undefined) rule.omitManagedFields = ruleValue;
      const got = createPolicyEvaluator(makePolicy([rule], { omitManagedFields: policyDefault })).evaluate(
        attrs,
      );
      expect(got.omitManagedFields).toBe(want);
    },
  );

  it("uses the policy default when no rule matches", () => {
    const got = createPolicyEvaluator(
      makePolicy([makeRule({ level: "Metadata", verbs: ["list"] })], { omitManagedFields: true }),
    ).evaluate(attrs);
    expect(got).toMatchObject({ level: "None", omitManagedFields: true, rule: null });
  });
});

describe("non-resource URL matching", () => {
  it.each([
    ["/healthz", "*", true],
    ["/healthz", "/healthz", true],
    ["/healthz/etcd", "/healthz*", true],
    ["/healthz/etcd", "/healthz/*", true],
    ["/healthz", "/healthz/*", false],
    ["/metrics/x", "/metrics", false],
    ["/logs", "/logs**", true],
  ])("%s against %s → %s", (path, spec, want) => {
    expect(pathMatches(path, spec)).toBe(want);
  });
});

describe("resource matching beyond the apiserver tests", () => {
  const pods = requests.namespaced!;
  it.each([
    ["pods/* also matches the resource itself", gr(["pods/*"]), true],
    ["*/log does not match a request without subresource", gr(["*/log"]), false],
    ["resourceNames restricts by name", gr(["pods"], "", ["other"]), false],
    ["resourceNames matches the name", gr(["pods"], "", ["busybox"]), true],
    ["a group with no resources matches every resource of it", gr([]), true],
    ["another group never matches", gr(["pods"], "apps"), false],
    ['group "*" matches the core group', gr(["pods"], "*"), true],
    ['group "*" with no resources matches every resource', gr([], "*"), true],
    ['group "*" still checks the resource', gr(["deployments"], "*"), false],
    ['group "*" still checks resourceNames', gr(["*"], "*", ["other"]), false],
  ])("%s", (_name, resources, want) => {
    const got = createPolicyEvaluator(makePolicy([makeRule({ level: "Metadata", resources })])).evaluate(
      pods,
    );
    expect(got.level).toBe(want ? "Metadata" : "None");
  });

  it('namespaces [""] matches only cluster-scoped requests', () => {
    const ev = createPolicyEvaluator(makePolicy([makeRule({ level: "Metadata", namespaces: [""] })]));
    expect(ev.evaluate(requests.cluster!).level).toBe("Metadata");
    expect(ev.evaluate(pods).level).toBe("None");
    expect(ev.evaluate(requests.nonResource!).level).toBe("None");
  });
});
