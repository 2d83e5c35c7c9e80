// `serve --retention-policy FILE`: the policy applied by serve itself, once the log is open and
// then every --retention-interval, the way `kubetrail retention run` applies it to a stopped
// log, the index rows of what it removed dropped after it by the index's own writer (off the
// event loop). With --retention-thin each run also thins the bundles it keeps, looking (on a
// thread of its own, scan-thread.ts) only at what can have expired since the last (ThinCursors,
// saved in DATA/retention-thin.json for the policy in force: the first run under a new policy,
// or without the file, looks at everything). A failed run is logged and tried again at the
// next interval; nothing is removed unless its retention record is in the log under a signed
// checkpoint first (run.ts).
import path from "node:path";
import type { Logger } from "pino";
import type { ServeExtension } from "../server/run-serve.js";
import { FsDriver } from "../store/fs/driver.js";
import type { AuditLog } from "../store/types.js";
import { RetentionError, type RetentionPolicy } from "./policy.js";
import { runRetention, type RetentionHold } from "./run.js";
import { scanOffThread } from "./scan-thread.js";
import { ThinCursors } from "./thin.js";
import { runDropJobOffThread } from "../index/drop-pruned.js";
import type { DroppedRows } from "../index/db.js";
import type { Indexer } from "../index/indexer.js";

/** Where serve's thinning runs got to (derived: without it the next run reads every full bundle once). */
export const THIN_CURSORS_FILE = "retention-thin.json";

export interface RetentionServeOptions {
  policy: RetentionPolicy;
  intervalMs: number;
  /** Also thin the bundles kept (retention run --thin). */
  thin?: boolean;
  /** Recorded as who ran it. */
  by: string;
  logger: Logger;
  /**
   * serve's running index, if any: the rows of what retention removed are dropped through its
   * writer. Without one, a thread of their own opens the file.
   */
  indexer?: () => Pick<Indexer, "dropRows"> | undefined;
  /** Where runs must stop for serve's push mirrors (mirror-holds.ts). */
  hold?: (prunedBefore: number) => RetentionHold | null;
}

export function retentionServeExtension(opts: RetentionServeOptions): ServeExtension {
  return {
    start: async ({ log }) => {
      const driver = (log as AuditLog & { driver?: unknown }).driver;
      if (!(driver instanceof FsDriver))
        throw new RetentionError(
          "refused",
          "--retention-policy needs the filesystem storage (it removes bundle files)",
        );
      const fsLog = log as AuditLog & { driver: FsDriver };
      // One run at a time: a tick while one runs is skipped; none starts once stopping began.
      let running: Promise<void> | undefined;
      let stopped = false;
      const dir = fsLog.driver.layout.dir;
      const cursorsFile = path.join(dir, THIN_CURSORS_FILE);
      const cursors = await ThinCursors.load(cursorsFile, opts.policy.digest);
      const dropRows = (rows: DroppedRows): Promise<number> =>
        opts.indexer?.()?.dropRows(rows) ?? runDropJobOffThread(dir, rows);
      const failed = (what: string) => (err: unknown) =>
        opts.logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          `${what}; tried again at the next interval`,
        );
      const once = (): Promise<void> => {
        // The thinned entries' rows go a few hundred bundles' worth at a time, in the background.
        let thinnedRows = Promise.resolve(0);
        const dropThinned = (indexes: number[]): void => {
          thinnedRows = thinnedRows.then((n) =>
            dropRows({ indexes }).then(
              (m) => n + m,
              (err: unknown) => {
                // Not retried: the next run does not look at these entries again.
                opts.logger.error(
                  { err: err instanceof Error ? err.message : String(err), entries: indexes.length },
                  "retention: dropping the thinned entries' index rows failed; they stay until kubetrail reindex",
                );
                return n;
              },
            ),
          );
        };
        return runRetention(fsLog, {
          policy: opts.policy,
          by: opts.by,
          ...(opts.hold ? { hold: opts.hold } : {}),
          ...(opts.thin
            ? { thin: true, cursors, onThinned: dropThinned, findThinnable: scanOffThread(dir) }
            : {}),
        }).then(async (r) => {
          if (opts.thin)
            await cursors
              .save(cursorsFile, opts.policy.digest)
              .catch(failed("retention: saving where thinning got to failed"));
          // Every run, so rows a crash or a failed run left behind go at the next.
          const indexRowsDropped = await dropRows({ before: r.before }).catch((err: unknown) => {
            failed("retention: dropping the pruned entries' index rows failed")(err);
            return 0;
          });
          if (opts.thin) await thinnedRows;
          // Every run (nothing to do unless rows went since the last), on a connection of its
          // own whoever dropped the rows: it reads every row, which the index writer would wait for.
          const stringsForgotten = await runDropJobOffThread(dir, { forget: true }).catch((err: unknown) => {
            failed("retention: blanking the index strings no row refers to failed")(err);
            return 0;
          });
          const thinned = opts.thin
            ? {
                thinned: r.thinned.entries,
                thinnedBundles: r.thinned.bundles,
                thinnedBytesFreed: r.thinned.bytesFreed,
                thinRecords: r.thinned.records,
                thinRead: r.thinned.read,
                thinnedIndexRows: await thinnedRows,
              }
            : {};
          if (r.bundles > 0 || indexRowsDropped > 0 || r.thinned.entries > 0)
            opts.logger.info(
              {
                from: r.from,
                before: r.before,
                bundles: r.bundles,
                bytesFreed: r.bytesFreed,
                record: r.recordIndex,
                indexRowsDropped,
                stringsForgotten,
                stoppedBy: r.stoppedBy,
                ...thinned,
              },
              r.bundles > 0 || indexRowsDropped > 0
                ? "retention: bundles removed"
                : "retention: entries thinned",
            );
          // Once a run, at info: an operator whose disk does not shrink sees which entry, kept by
          // which part of the policy until when, holds the bundles back.
          else opts.logger.info({ stoppedBy: r.stoppedBy, ...thinned }, "retention: nothing to remove");
        }, failed("retention run failed"));
      };
      const tick = (): void => {
        if (stopped || running !== undefined) return;
        running = once().finally(() => (running = undefined));
      };
      tick();
      const timer = setInterval(tick, opts.intervalMs);
      timer.unref();
      return async () => {
        stopped = true;
        clearInterval(timer);
        await running;
      };
    },
  };
}
