import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { AdmissionOutcome } from "../guard/admission.js";
import type { PolicyResult } from "../guard/types.js";
import { AdmissionMetrics } from "./admission-metrics.js";

function outcome(result: string, policies: [string, PolicyResult["status"], string?][]): AdmissionOutcome {
  return {
    record: {
      result,
      policies: policies.map(([policy, status, exception]) => ({
        policy,
        status,
        ...(exception ? { exception: { name: exception } } : {}),
      })),
    },
  } as unknown as AdmissionOutcome;
}

const samples = async (r: Registry) =>
  (await r.metrics())
    .split("\n")
    .filter((l) => l.startsWith("kubetrail_admission_") && !l.includes("_bucket"));

describe("admission metrics", () => {
  it("count results, policy statuses, exceptions and rejections, the same at every scrape", async () => {
    const registry = new Registry();
    const m = new AdmissionMetrics(registry);
    m.answered(
      outcome("deny", [
        ["pss", "fail"],
        ["label", "pass"],
      ]),
      0.002,
    );
    m.answered(
      outcome("allow", [
        ["pss", "pass"],
        ["label", "excepted", "legacy"],
      ]),
      0.001,
    );
    m.answered(outcome("deny", [["pss", "fail"]]), 0.003);
    m.rejected("malformed");
    const want = [
      'kubetrail_admission_reviews_total{result="deny"} 2',
      'kubetrail_admission_reviews_total{result="allow"} 1',
      'kubetrail_admission_policy_results_total{policy="pss",status="fail"} 2',
      'kubetrail_admission_policy_results_total{policy="pss",status="pass"} 1',
      'kubetrail_admission_policy_results_total{policy="label",status="pass"} 1',
      'kubetrail_admission_policy_results_total{policy="label",status="excepted"} 1',
      'kubetrail_admission_exceptions_used_total{policy="label",exception="legacy"} 1',
      'kubetrail_admission_rejected_total{reason="malformed"} 1',
      "kubetrail_admission_review_seconds_sum 0.006",
      "kubetrail_admission_review_seconds_count 3",
    ];
    expect(await samples(registry)).toEqual(want);
    expect(await samples(registry)).toEqual(want);
    m.answered(outcome("allow", [["pss", "pass"]]), 0.001);
    const after = await samples(registry);
    expect(after).toContain('kubetrail_admission_reviews_total{result="allow"} 2');
    expect(after).toContain('kubetrail_admission_policy_results_total{policy="pss",status="pass"} 2');
  });
});
