// POST /v1/admission/validate: the validating admission webhook (admission.k8s.io/v1
// AdmissionReview), authenticated like ingest (the apiserver's client certificate or a token).
// A malformed review gets 400 with what was wrong; a decision that cannot be logged gets 503,
// and the apiserver applies the webhook's failurePolicy.
import type { AdmissionOutcome } from "../../guard/admission.js";
import { GuardError } from "../../guard/types.js";
import { ADMISSION_PATH } from "../../guard/webhook-config.js";
import { LogError } from "../../store/types.js";
import type { BodyLimits } from "../body.js";
import { readJsonBody } from "../json-body.js";
import { HttpError, type Route } from "../route.js";
import { jsonReply } from "../server.js";
import { ingestFailureStatus } from "./webhook.js";

export interface AdmissionRouteDeps {
  review(body: unknown): Promise<AdmissionOutcome>;
  limits: BodyLimits;
  accepting: () => boolean;
  /** Each answered review, after its decision is durable (metrics, alert sinks). */
  onOutcome?: (outcome: AdmissionOutcome, seconds: number) => void;
  /** Bad reviews, by reason, for metrics. */
  onRejected?: (reason: string) => void;
  /** Failures that are neither bad input nor back-pressure. */
  onUnexpected?: (err: unknown) => void;
}

export function admissionRoutes(deps: AdmissionRouteDeps): Route[] {
  return [
    {
      method: "POST",
      pattern: ADMISSION_PATH,
      scope: "admission",
      async handle({ req, res }) {
        const started = process.hrtime.bigint();
        try {
          if (!deps.accepting()) throw new HttpError(503, "not ready", { "Retry-After": "1" });
          const { body, release } = await readJsonBody(req, deps.limits);
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString("utf8"));
          } catch (err) {
            throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
          } finally {
            // Parsed (or refused): the body's bytes no longer count against the memory budget.
            release();
          }
          const outcome = await deps.review(parsed);
          deps.onOutcome?.(outcome, Number(process.hrtime.bigint() - started) / 1e9);
          jsonReply(res, 200, outcome.response);
        } catch (err) {
          if (err instanceof GuardError) {
            deps.onRejected?.("malformed");
            throw new HttpError(400, err.message);
          }
          if (err instanceof HttpError) {
            deps.onRejected?.(err.status === 503 ? "not_ready" : "bad_request");
            throw err;
          }
          deps.onRejected?.("unavailable");
          if (err instanceof LogError) {
            if (err.code !== "busy") deps.onUnexpected?.(err);
            throw ingestFailureStatus(err);
          }
          deps.onUnexpected?.(err);
          throw new HttpError(500, "admission review failed");
        }
      },
    },
  ];
}
