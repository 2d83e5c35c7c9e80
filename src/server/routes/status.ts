// GET /v1/status (read credential, the whole log's reader): the report `kubetrail status` prints,
// taken from serve's own data directory with what the running process knows better (the
// appended size, the indexer's and detector's positions). And the detector's lag on /metrics.
// Documented in docs/api.md and docs/openapi.yaml.
import type { Indexer } from "../../index/indexer.js";
import { collectStatus, type LiveStatus, type StatusReport } from "../../status/collect.js";
import type { AuditLog } from "../../store/types.js";
import type { Route } from "../route.js";
import type { ServeExtension } from "../run-serve.js";
import { jsonReply } from "../server.js";

/** A report is reused this long: walking a large data directory is not free, and asking is. */
const REPORT_TTL_MS = 2000;

export interface StatusServeSetup {
  stateDir: string;
  /** The running indexer (the query extension's). */
  indexer?: (log: AuditLog) => Indexer;
  /** The running detector's position, when detection runs. */
  detectorPosition?: () => number | undefined;
}

export function statusServeExtension(setup: StatusServeSetup): ServeExtension {
  // One report at a time, shared by every request in its lifetime: a burst of requests (or a
  // client polling fast) costs one directory walk per TTL, not one per request.
  let last: { at: number; report: Promise<StatusReport> } | undefined;
  const live = (log: AuditLog): LiveStatus => {
    const indexer = setup.indexer?.(log);
    const index = indexer?.status();
    const detectorPosition = setup.detectorPosition?.();
    return {
      logSize: log.size(),
      ...(indexer && index
        ? {
            index: {
              position: indexer.position(),
              state: index.state,
              ...(index.reason === undefined ? {} : { message: index.reason }),
            },
          }
        : {}),
      ...(detectorPosition === undefined ? {} : { detectorPosition }),
    };
  };
  const report = (log: AuditLog): Promise<StatusReport> => {
    const now = Date.now();
    if (last === undefined || now - last.at >= REPORT_TTL_MS) {
      const taken = collectStatus(setup.stateDir, { live: live(log) });
      // A failed walk is not kept: the next request tries again.
      taken.catch(() => (last = undefined));
      last = { at: now, report: taken };
    }
    return last.report;
  };
  return {
    routes: (ingest) => statusRoutes({ report: () => report(ingest.log) }),
  };
}

/** GET /v1/status: the report `report` takes (see statusServeExtension for how it is bounded). */
export function statusRoutes(deps: { report: () => Promise<StatusReport> }): Route[] {
  return [
    {
      method: "GET",
      pattern: "/v1/status",
      scope: "read",
      async handle({ res, access }) {
        // Sizes and positions of the whole log: for those who may read all of it.
        await access.fullLog("get");
        jsonReply(res, 200, await deps.report(), { "Cache-Control": "no-store" });
      },
    },
  ];
}
