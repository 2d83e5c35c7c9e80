// One admission review end to end: parse it, decide with the current policies, append the
// AdmissionDecision entry (durable before anything is answered), then build the response.
// If the entry cannot be made durable the review fails (the apiserver then applies the
// webhook's failurePolicy): no decision is ever answered without being in the log.
import type { LogWriter } from "../store/types.js";
import { hashLeaf } from "../tlog/index.js";
import { decisionRecord, encodeDecision, type AdmissionDecisionRecord } from "./decision-record.js";
import { evaluatePolicies } from "./evaluate.js";
import type { NamespaceCache } from "./namespaces.js";
import type { PolicySet } from "./policy/load.js";
import { parseAdmissionReview, reviewResponse, type ReviewResponse } from "./review.js";

export interface AdmissionOptions {
  /** The policies in force; read per review, so a reload takes effect on the next one. */
  policies: () => PolicySet;
  writer: LogWriter;
  namespaces: NamespaceCache;
  now?: () => number;
}

export interface AdmissionOutcome {
  response: ReviewResponse;
  record: AdmissionDecisionRecord;
  /** The decision entry's index in the log. */
  index: number;
}

const QUALIFIED_PART = /[^A-Za-z0-9._-]+/g;

/** An audit annotation key the apiserver accepts after "<webhook name>/": a qualified name part. */
export function annotationKey(text: string): string {
  const cleaned = text.replace(QUALIFIED_PART, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return cleaned.slice(0, 63).replace(/[^A-Za-z0-9]+$/, "") || "annotation";
}

export class AdmissionReviewer {
  private readonly now: () => number;

  constructor(private readonly opts: AdmissionOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Decides one AdmissionReview body. Throws GuardError("review") for a malformed review and
   * the log's error when the decision cannot be appended.
   */
  async review(body: unknown): Promise<AdmissionOutcome> {
    const review = parseAdmissionReview(body);
    const r = review.request;
    const nowMs = this.now();
    const decision = evaluatePolicies(this.opts.policies().policies, r, {
      nowMs,
      namespaceObject: this.opts.namespaces.object(r.namespace),
    });
    const record = decisionRecord(r, decision, nowMs);
    // Concurrent reviews share the log's group commit. The leaf hash, cheap for an entry this
    // small, spares the log a round trip to its hashing worker per commit.
    const entry = encodeDecision(record);
    const { firstIndex } = await this.opts.writer.append([entry], [hashLeaf(entry)]);
    if (!r.dryRun) this.opts.namespaces.observeAdmission(r, decision.allowed);
    const annotations: Record<string, string> = {
      decision: decision.result,
      "decision-index": String(firstIndex),
    };
    for (const p of decision.policies)
      if (p.auditAnnotations !== undefined)
        for (const [k, v] of Object.entries(p.auditAnnotations))
          annotations[annotationKey(`${p.policy}.${k}`)] = v;
    return { response: reviewResponse(review, decision, annotations), record, index: firstIndex };
  }
}
