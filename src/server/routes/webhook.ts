// POST /v1/audit/webhook: the kube-apiserver's audit webhook backend (batch or blocking mode).
// Answers 200 only when every event of the batch is durable; any failure makes the apiserver
// re-send the identical batch, which dedupe then absorbs. An item that is not a valid event is
// recorded as a QuarantinedItem entry with the batch (see src/ingest/quarantine.ts) and counted
// in the answer: one bad item must not make the apiserver re-send, then drop, its good ones.
import { IngestError, isBadInput } from "../../ingest/errors.js";
import { IngestBusyError, type IngestPipeline } from "../../ingest/pipeline.js";
import type { Receiver } from "../../ingest/receive.js";
import { LogError } from "../../store/types.js";
import type { BodyLimits } from "../body.js";
import { readJsonBody } from "../json-body.js";
import type { ServerMetrics } from "../metrics.js";
import { HttpError, type Route } from "../route.js";
import { jsonReply } from "../server.js";

export interface WebhookDeps {
  /** Parses and prepares a body (on a worker thread where there is a core for it). */
  receive: Receiver["receive"];
  /** The ingest pipeline's entry point: resolves once the batch is durable. */
  ingest: IngestPipeline["ingestPrepared"];
  metrics: ServerMetrics;
  limits: BodyLimits;
  /** False until the log is open and recovered, and again once shutdown begins. */
  accepting: () => boolean;
  /** Told about failures that are not bad input or back-pressure (bugs, I/O errors). */
  onUnexpected?: (err: unknown) => void;
}

const RETRY_AFTER = { "Retry-After": "1" };

/** Maps a failure to the status the apiserver should see: 4xx for bad input, 429/503 to back off. */
export function ingestFailureStatus(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (isBadInput(err)) return new HttpError(err.code === "too_large" ? 413 : 400, err.message);
  if (err instanceof IngestBusyError) return new HttpError(429, err.message, RETRY_AFTER);
  if (err instanceof LogError) {
    // "full": the disk; "closed": shutting down; "busy": the write backlog. All worth a retry later.
    if (err.code === "full" || err.code === "closed")
      return new HttpError(503, `log unavailable: ${err.message}`, RETRY_AFTER);
    if (err.code === "busy") return new HttpError(429, `log is busy: ${err.message}`, RETRY_AFTER);
    return new HttpError(503, `log append failed (${err.code})`, RETRY_AFTER);
  }
  return new HttpError(503, "ingest failed", RETRY_AFTER);
}

function rejectReason(status: number, err: unknown): string {
  if (err instanceof IngestError) return err.code;
  if (status === 413) return "too_large";
  if (status === 415) return "unsupported_media";
  if (status === 429) return "busy";
  if (status >= 500) return "unavailable";
  return "bad_request";
}

export function webhookRoutes(deps: WebhookDeps): Route[] {
  return [
    {
      method: "POST",
      pattern: "/v1/audit/webhook",
      scope: "ingest",
      async handle({ req, res }) {
        const started = process.hrtime.bigint();
        try {
          if (!deps.accepting()) throw new HttpError(503, "not ready", RETRY_AFTER);
          const { body, rawBytes, release } = await readJsonBody(req, deps.limits);
          let result;
          try {
            deps.metrics.requestBytes.inc(rawBytes);
            const batch = await deps.receive(body);
            deps.metrics.batchSize.observe(batch.received);
            result = await deps.ingest(batch);
          } finally {
            // The body's memory counts until its events are durable: only then may others use it.
            release();
          }
          deps.metrics.recordIngest("webhook", result);
          if (result.quarantined)
            deps.metrics.rejected.inc({ reason: "quarantined_item" }, result.quarantined);
          deps.metrics.ackSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
          jsonReply(res, 200, {
            received: result.received,
            stored: result.stored,
            duplicates: result.duplicates,
            quarantined: result.quarantined ?? 0,
            ...(result.rejected !== undefined && result.rejected.length > 0
              ? { rejected: result.rejected }
              : {}),
          });
        } catch (err) {
          const httpErr = ingestFailureStatus(err);
          if (httpErr.status >= 500 && !(err instanceof HttpError)) deps.onUnexpected?.(err);
          deps.metrics.rejected.inc({ reason: rejectReason(httpErr.status, err) });
          throw httpErr;
        }
      },
    },
  ];
}
