// Fuzzed AdmissionReviews in-process (seeded): parsing either accepts a review or refuses it
// with a GuardError naming fields; evaluating an accepted one never throws, whatever the object.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decisionRecord, encodeDecision } from "./decision-record.js";
import { evaluatePolicies } from "./evaluate.js";
import { policiesFromDocuments } from "./policy/load.js";
import { parseAdmissionReview, reviewResponse } from "./review.js";
import { GuardError } from "./types.js";

const SEED = Number(process.env["FUZZ_SEED"] ?? 7_2026);
const policies = policiesFromDocuments([], { builtins: true }).policies;

const gvk = fc.record({
  group: fc.constantFrom("", "apps", "batch", "rbac.authorization.k8s.io"),
  version: fc.constantFrom("v1", ""),
  kind: fc.constantFrom("Pod", "Deployment", "CronJob", "ConfigMap", "ClusterRoleBinding", ""),
});
const resource = fc.constantFrom("pods", "deployments", "cronjobs", "configmaps", "clusterrolebindings");
const anything = fc.jsonValue({ maxDepth: 5 });
const objectish = fc.oneof(
  anything,
  fc.record(
    {
      kind: fc.constantFrom("Pod", "Deployment", "CronJob", "ConfigMap"),
      metadata: anything,
      spec: fc.oneof(
        anything,
        fc.record({ containers: fc.array(anything), template: anything, jobTemplate: anything }),
      ),
      data: anything,
      subjects: anything,
      roleRef: anything,
    },
    { requiredKeys: [] },
  ),
);
const reviews = fc.record(
  {
    apiVersion: fc.constantFrom("admission.k8s.io/v1", "admission.k8s.io/v1beta1", "v1"),
    kind: fc.constantFrom("AdmissionReview", "Other"),
    request: fc.record(
      {
        uid: fc.oneof(fc.string(), fc.integer()),
        kind: fc.oneof(gvk, anything),
        resource: fc.record({
          group: fc.constantFrom("", "apps", "batch"),
          version: fc.constant("v1"),
          resource,
        }),
        subResource: fc.constantFrom("", "status", "ephemeralcontainers"),
        name: fc.string(),
        namespace: fc.string(),
        operation: fc.constantFrom("CREATE", "UPDATE", "DELETE", "CONNECT", "PATCH"),
        userInfo: fc.oneof(fc.record({ username: fc.string(), groups: fc.array(fc.string()) }), anything),
        object: objectish,
        oldObject: objectish,
        dryRun: fc.oneof(fc.boolean(), anything),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** Well-formed envelopes around arbitrary objects: these reach the policies. */
const wellFormed = fc.record({
  apiVersion: fc.constant("admission.k8s.io/v1"),
  kind: fc.constant("AdmissionReview"),
  request: fc.record({
    uid: fc.string({ minLength: 1 }),
    kind: gvk.filter((k) => k.kind !== "" && k.version !== ""),
    resource: fc.record({
      group: fc.constantFrom("", "apps", "batch", "rbac.authorization.k8s.io"),
      version: fc.constant("v1"),
      resource,
    }),
    operation: fc.constantFrom("CREATE", "UPDATE", "DELETE"),
    userInfo: fc.record({ username: fc.string(), groups: fc.array(fc.string()) }),
    object: fc.oneof(
      objectish.filter((o) => typeof o === "object" && o !== null && !Array.isArray(o)),
      fc.constant(null),
    ),
    oldObject: fc.constant(null),
  }),
});

describe("fuzzed AdmissionReviews", () => {
  it(`parse to a request or a field-naming GuardError; decisions never throw (seed ${SEED})`, () => {
    console.log(`fuzz seed ${SEED} (FUZZ_SEED=… to replay)`);
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(reviews, wellFormed), (body) => {
        let parsed;
        try {
          parsed = parseAdmissionReview(body);
        } catch (err) {
          expect(err).toBeInstanceOf(GuardError);
          expect((err as GuardError).message).toMatch(/^(malformed AdmissionReview: |the body must be)/);
          return;
        }
        accepted++;
        const d = evaluatePolicies(policies, parsed.request, { nowMs: 0, namespaceObject: null });
        // The built-ins read any shape of object without throwing (a throw would be an error result).
        expect(d.policies.filter((p) => p.status === "error")).toEqual([]);
        const rec = decisionRecord(parsed.request, d, 0);
        expect(() => JSON.parse(Buffer.from(encodeDecision(rec)).toString("utf8")) as unknown).not.toThrow();
        expect(encodeDecision(rec).includes(0x0a)).toBe(false);
        expect(reviewResponse(parsed, d, {}).response.uid).toBe(parsed.request.uid);
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // The generator must reach the evaluator, or this test proves nothing about it.
    expect(accepted).toBeGreaterThan(100);
  });
});
