// `serve --retention-policy FILE`: the policy applied by serve itself, once the log is open and
// then every --retention-interval, the way `kubetrail retention run` applies it to a stopped
// log, the index rows of what it removed dropped after it (off the event loop). A failed run is logged and tried again at the next interval; nothing is removed unless
// its retention record is in the log under a signed checkpoint first (run.ts).
import type { Logger } from "pino";
import type { ServeExtension } from "../server/run-serve.js";
import { FsDriver } from "../store/fs/driver.js";
import type { AuditLog } from "../store/types.js";
import { RetentionError, type RetentionPolicy } from "./policy.js";
import { runRetention } from "./run.js";
import { dropPrunedRowsOffThread } from "../index/drop-pruned.js";

export interface RetentionServeOptions {
  policy: RetentionPolicy;
  intervalMs: number;
  /** Recorded as who ran it. */
  by: string;
  logger: Logger;
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
      let running: Promise<void> = Promise.resolve();
      const failed = (what: string) => (err: unknown) =>
        opts.logger.error(
          { err: err instanceof Error ? err.message : String(err) },
          `${what}; tried again at the next interval`,
        );
      const once = (): void => {
        running = runRetention(fsLog, { policy: opts.policy, by: opts.by }).then(async (r) => {
          // Every run, so rows a crash or a failed run left behind go at the next.
          const indexRowsDropped = await dropPrunedRowsOffThread(fsLog.driver.layout.dir, r.before).catch(
            (err: unknown) => {
              failed("retention: dropping the pruned entries' index rows failed")(err);
              return 0;
            },
          );
          if (r.bundles > 0 || indexRowsDropped > 0)
            opts.logger.info(
              {
                from: r.from,
                before: r.before,
                bundles: r.bundles,
                bytesFreed: r.bytesFreed,
                record: r.recordIndex,
                indexRowsDropped,
                stoppedBy: r.stoppedBy,
              },
              "retention: bundles removed",
            );
          // Once a run, at info: an operator whose disk does not shrink sees which entry, kept by
          // which part of the policy until when, holds the bundles back.
          else opts.logger.info({ stoppedBy: r.stoppedBy }, "retention: nothing to remove");
        }, failed("retention run failed"));
      };
      once();
      const timer = setInterval(() => {
        running.then(once, once);
      }, opts.intervalMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
      };
    },
  };
}
