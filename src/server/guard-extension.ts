// For `kubetrail serve`: the admission webhook (POST /v1/admission/validate) with the loaded
// guard policies, its decisions appended to the log, denies and warnings sent to the alert
// sinks, namespace labels learnt from reviews and from stored audit events, and Prometheus
// metrics. Policies can be reloaded (SIGHUP) without a restart.
import type { Logger } from "pino";
import { SinkDispatcher } from "../detect/dispatch.js";
import { alertMetrics } from "../detect/alert-metrics.js";
import type { AlertSink } from "../detect/types.js";
import { AdmissionReviewer, type AdmissionOutcome } from "../guard/admission.js";
import { decisionAlerts } from "../guard/alerts.js";
import { namespaceFile, readNamespaceFile, writeNamespaceFile } from "../guard/namespace-file.js";
import { NamespaceCache } from "../guard/namespaces.js";
import { loadPolicies, type PolicySet } from "../guard/policy/load.js";
import { MemoryBudget } from "../ingest/memory-budget.js";
import { AdmissionMetrics } from "./admission-metrics.js";
import { admissionRoutes } from "./routes/admission.js";
import type { ServeExtension } from "./run-serve.js";

export interface GuardSetup {
  dataDir: string;
  /** Policy files and directories (--guard-policies). */
  policyPaths: string[];
  builtins: boolean;
  /** The policies as loaded at start-up (loading errors surface before serve starts). */
  initial: PolicySet;
  /** Where denies and warnings go, beside the decision entries. */
  sinks: AlertSink[];
  logger: Logger;
  maxBodyBytes?: number;
}

export interface GuardExtension extends ServeExtension {
  /** Reads the policy files again; on any problem keeps the policies in force and throws. */
  reload(): PolicySet;
}

/** Bytes of a review the webhook accepts: an object and its old version, each up to etcd's limit. */
const DEFAULT_MAX_REVIEW_BYTES = 8 * 1024 * 1024;
const NAMESPACE_SAVE_MS = 5_000;

export function guardServeExtension(setup: GuardSetup): GuardExtension {
  let policies = setup.initial;
  let accepting = false;
  const namespaces = new NamespaceCache();
  let reviewer: AdmissionReviewer | undefined;
  const maxBytes = setup.maxBodyBytes ?? DEFAULT_MAX_REVIEW_BYTES;
  let onOutcome: (o: AdmissionOutcome, seconds: number) => void = () => {};
  let onRejected: (reason: string) => void = () => {};

  return {
    reload() {
      const next = loadPolicies(setup.policyPaths, { builtins: setup.builtins });
      policies = next;
      return next;
    },
    routes: (ingest) => {
      reviewer = new AdmissionReviewer({ policies: () => policies, writer: ingest.log, namespaces });
      const r = reviewer;
      return admissionRoutes({
        review: (body) => r.review(body),
        limits: {
          maxBytes,
          maxDecodedBytes: maxBytes,
          // Its own budget: admission reviews must not wait behind audit batches.
          budget: new MemoryBudget(Math.max(64 * 1024 * 1024, 4 * maxBytes)),
        },
        accepting: () => accepting,
        onOutcome: (o, s) => onOutcome(o, s),
        onRejected: (reason) => onRejected(reason),
        onUnexpected: (err) =>
          setup.logger.error(
            { err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) },
            "admission review failed",
          ),
      });
    },
    start: async (ingest, ctx) => {
      const file = namespaceFile(setup.dataDir);
      for (const ns of await readNamespaceFile(file, (why) =>
        setup.logger.warn({ repair: why }, "guard namespace labels"),
      ))
        namespaces.set(ns);
      let saved = namespaces.generation;
      const unsubscribe = ingest.pipeline.onStored((_first, stored) => {
        for (const e of stored) {
          // Entries handed over as bytes are parsed only when they can be about a namespace.
          if (e instanceof Uint8Array) {
            if (Buffer.from(e.buffer, e.byteOffset, e.byteLength).indexOf('"namespaces"') === -1) continue;
            try {
              namespaces.observeAuditEvent(
                JSON.parse(Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString("utf8")),
              );
            } catch {
              // Not JSON: nothing to learn; the log holds it as it came.
            }
          } else namespaces.observeAuditEvent(e);
        }
      });
      const save = async (): Promise<void> => {
        if (namespaces.generation === saved) return;
        const gen = namespaces.generation;
        await writeNamespaceFile(file, namespaces.snapshot());
        saved = gen;
      };
      const timer = setInterval(() => {
        save().catch((err: unknown) =>
          setup.logger.warn({ err: (err as Error).message }, "saving guard namespace labels failed"),
        );
      }, NAMESPACE_SAVE_MS);
      timer.unref();

      const admission = new AdmissionMetrics(ctx.registry);
      const metrics = alertMetrics(ctx.registry);
      // Labelled apart from the detector's dispatchers; the sinks themselves are closed by serve.
      const dispatchers = setup.sinks.map(
        (s) =>
          new SinkDispatcher(
            { name: `guard-${s.name}`, send: (a) => s.send(a) },
            metrics,
            {},
            Date.now,
            (err) => setup.logger.warn({ sink: s.name, err: err.message }, "admission alert delivery failed"),
          ),
      );
      onRejected = (reason) => admission.rejected(reason);
      onOutcome = (o, s) => {
        admission.answered(o, s);
        for (const alert of decisionAlerts(o.record, o.index)) {
          metrics.raised.inc({ rule: alert.rule, severity: alert.severity });
          for (const d of dispatchers) d.enqueue(alert);
        }
      };
      accepting = true;
      setup.logger.info(
        { policies: policies.policies.length, namespaces: namespaces.size },
        "admission webhook ready on /v1/admission/validate",
      );
      for (const w of policies.warnings) setup.logger.warn({ policy: w }, "guard policy warning");
      return async () => {
        accepting = false;
        unsubscribe();
        clearInterval(timer);
        await save().catch((err: unknown) =>
          setup.logger.warn({ err: (err as Error).message }, "saving guard namespace labels failed"),
        );
        await Promise.all(dispatchers.map((d) => d.close()));
      };
    },
  };
}
