// The admission webhook's Prometheus metrics. Every answered review counts its result and each
// policy's status; prom-client's labelled inc hashes its labels into a new string and object on
// every call, which for a review and its half-dozen policies was a noticeable part of the
// garbage a review leaves. So these two counts are tallied in plain maps and handed to
// prom-client when /metrics is scraped; the rare counts (rejections, exceptions) use inc.
import { Counter, Histogram, type Registry } from "prom-client";
import type { AdmissionOutcome } from "../guard/admission.js";

/** Counts by up to two label values, without allocating once each pair has been seen. */
class Tally {
  private readonly counts = new Map<string, Map<string, number>>();

  add(a: string, b = ""): void {
    let inner = this.counts.get(a);
    if (inner === undefined) this.counts.set(a, (inner = new Map()));
    inner.set(b, (inner.get(b) ?? 0) + 1);
  }

  /** Sets `counter` to the tallies: `names` are its label names, one or two. */
  publish(counter: Counter, names: readonly [string] | readonly [string, string]): void {
    counter.reset();
    for (const [a, inner] of this.counts)
      for (const [b, n] of inner)
        counter.inc(names.length === 1 ? { [names[0]]: a } : { [names[0]]: a, [names[1]]: b }, n);
  }
}

export class AdmissionMetrics {
  private readonly seconds: Histogram;
  private readonly rejections: Counter;
  private readonly exceptionsUsed: Counter;
  private readonly results = new Tally();
  private readonly policyStatuses = new Tally();

  constructor(registry: Registry) {
    const registers = [registry];
    const results = this.results;
    const policyStatuses = this.policyStatuses;
    new Counter({
      name: "kubetrail_admission_reviews_total",
      help: "Admission reviews answered, by result (allow, audit, warn, deny)",
      labelNames: ["result"],
      registers,
      collect() {
        results.publish(this, ["result"]);
      },
    });
    new Counter({
      name: "kubetrail_admission_policy_results_total",
      help: "Policy results in answered reviews, by policy and status (pass, fail, error, excepted)",
      labelNames: ["policy", "status"],
      registers,
      collect() {
        policyStatuses.publish(this, ["policy", "status"]);
      },
    });
    this.exceptionsUsed = new Counter({
      name: "kubetrail_admission_exceptions_used_total",
      help: "Failures waived by a policy exception",
      labelNames: ["policy", "exception"],
      registers,
    });
    this.rejections = new Counter({
      name: "kubetrail_admission_rejected_total",
      help: "Admission reviews not answered with a decision: malformed, not_ready, bad_request, unavailable",
      labelNames: ["reason"],
      registers,
    });
    this.seconds = new Histogram({
      name: "kubetrail_admission_review_seconds",
      help: "Time from request to answer, the decision entry made durable in between",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
  }

  /** An answered review, `seconds` after its request arrived. */
  answered(o: AdmissionOutcome, seconds: number): void {
    this.seconds.observe(seconds);
    this.results.add(o.record.result);
    for (const p of o.record.policies) {
      this.policyStatuses.add(p.policy, p.status);
      if (p.exception) this.exceptionsUsed.inc({ policy: p.policy, exception: p.exception.name });
    }
  }

  rejected(reason: string): void {
    this.rejections.inc({ reason });
  }
}
