// For `kubetrail serve`: runs the detector over the integrated log (built-in rules, Sigma rules
// from --rules-dir, settings and sinks from --rules-config). Alerts go into the log and to sinks;
// the detector keeps its own position (DATA/detect.position), so a restart resumes where it was.
import path from "node:path";
import type { Logger } from "pino";
import { createDetector, createSinks, readRulesConfig } from "../detect/index.js";
import { followLog } from "../store/follow.js";
import type { ServeExtension } from "./run-serve.js";

export interface DetectSetup {
  dataDir: string;
  rulesConfig?: string;
  rulesDirs: string[];
  logger: Logger;
}

export function detectServeExtension(setup: DetectSetup): ServeExtension {
  return {
    start: async (ingest, ctx) => {
      const config = setup.rulesConfig ? await readRulesConfig(setup.rulesConfig) : undefined;
      const sinks = await createSinks(config?.sinks ?? [{ type: "stdout" }]);
      const detector = createDetector({
        workerRules: { builtins: true, dirs: setup.rulesDirs, config },
        sinks,
        writer: ingest.log,
        reader: ingest.log,
        positionFile: path.join(setup.dataDir, "detect.position"),
        registry: ctx.registry,
        onSinkError: (sink, err) => setup.logger.warn({ sink, err: err.message }, "alert delivery failed"),
      });
      const from = await detector.start();
      const follower = followLog(ingest.log, {
        from,
        onEntries: (entries) => detector.process(entries),
        onError: (err) =>
          setup.logger.error(
            { err: err instanceof Error ? err.message : String(err) },
            "detector failed; retrying",
          ),
      });
      setup.logger.info({ from }, "detector started");
      return async () => {
        await follower.stop();
        await detector.close();
      };
    },
  };
}
