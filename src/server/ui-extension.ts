// For `kubetrail serve`: the web UI. Its files and session endpoints (routes/ui.ts), its read
// endpoints (routes/ui-api.ts) on read connections of their own to index.db (the query
// extension's indexer writes it), and the in-memory stats kept in step with the index.
import type { Logger } from "pino";
import { EventStats } from "../index/stats/event-stats.js";
import { StatsSource } from "../index/stats/source.js";
import type { Storage } from "../store/storage.js";
import type { AuditLog } from "../store/types.js";
import type { Indexer } from "../index/indexer.js";
import type { IndexReads } from "./routes/query.js";
import type { ServeExtension } from "./run-serve.js";
import { uiApiRoutes } from "./routes/ui-api.js";
import {
  kubeTokenLogin,
  loadUiAssets,
  readTokenLogin,
  uiRoutes,
  type LoginAuthenticator,
} from "./routes/ui.js";
import type { SessionStore } from "./session.js";

export interface UiSetup {
  /** The stats read index.db in its stateDir; its checkpointWrittenAt is shown until the next one is signed. */
  storage: Pick<Storage, "stateDir" | "checkpointWrittenAt">;
  /** The built UI (dist/web). */
  assetsDir: string;
  sessions: SessionStore;
  /** Rows the in-memory stats hold at most. */
  statsRows?: number;
  /**
   * The query extension's indexer (queryServeExtension(…).indexer): the UI reads through it,
   * and the stats forget the rows retention has it delete.
   */
  index: (log: AuditLog) => IndexReads & Pick<Indexer, "onDropped">;
  /** Authenticators tried at login after the read tokens and Kubernetes tokens. */
  logins?: readonly LoginAuthenticator[];
  logger: Logger;
}

export function uiServeExtension(setup: UiSetup): ServeExtension {
  let stats: EventStats | undefined;
  const unsubscribe: (() => void)[] = [];
  return {
    routes: (ingest, ctx) => {
      const assets = loadUiAssets(setup.assetsDir);
      if (assets === undefined)
        setup.logger.warn(
          { dir: setup.assetsDir },
          "the web UI is not built (npm run build); /ui/ answers 503",
        );
      const index = setup.index(ingest.log);
      const following = new EventStats(new StatsSource(setup.storage.stateDir), setup.statsRows);
      stats = following;
      unsubscribe.push(index.onDropped((rows) => following.forget(rows)));
      // Until the next checkpoint is signed, the time the storage kept is the best known.
      let writtenAt = setup.storage.checkpointWrittenAt?.();
      unsubscribe.push(ingest.log.onIntegrated(() => (writtenAt = Date.now())));
      // The API's /ui/api/ paths first: the app's catch-all /ui/* must not shadow them.
      return [
        ...uiApiRoutes({
          log: ingest.log,
          index,
          stats: following,
          verifierKey: ingest.log.verifierKey,
          checkpointWrittenAt: () => writtenAt,
        }),
        ...uiRoutes({
          assets,
          sessions: setup.sessions,
          // With --kube-auth, a Kubernetes token signs in as that user (TokenReview), read with RBAC.
          logins: [
            readTokenLogin(ctx.auth.readTokens),
            ...(ctx.auth.kube === undefined ? [] : [kubeTokenLogin(ctx.auth.kube.reviewer)]),
            ...(setup.logins ?? []),
          ],
        }),
      ];
    },
    start: async () => {
      const following = stats;
      let failing = false;
      // The first load runs in the background; stats queries answer 503 (retry) until it is done.
      const refresh = (): void =>
        void following?.refresh().then(
          () => (failing = false),
          (err: unknown) => {
            if (!failing)
              setup.logger.error(
                { err: err instanceof Error ? err.message : String(err) },
                "UI statistics could not follow the index; retrying",
              );
            failing = true;
          },
        );
      refresh();
      const timer = setInterval(refresh, 1000);
      timer.unref();
      return async () => {
        clearInterval(timer);
        for (const off of unsubscribe) off();
        await following?.refresh().catch(() => undefined);
        following?.close();
      };
    },
  };
}
