// For `kubetrail serve`: runs the detector over the integrated log (built-in rules, Sigma rules
// from --rules-dir, settings and sinks from --rules-config). Alerts go into the log and to sinks;
// the detector keeps its own position (detect.position in the state directory), so a restart resumes where it was.
import type { Logger } from "pino";
import { createSinks, readRulesConfig, startLiveDetection } from "../detect/index.js";
import { registerDetectorLag } from "../detect/lag-metric.js";
import type { StdoutTarget } from "../detect/sinks/stdout.js";
import type { ServeExtension } from "./run-serve.js";

export interface DetectSetup {
  /** Where the detector keeps its position (Storage.stateDir). */
  stateDir: string;
  rulesConfig?: string;
  rulesDirs: string[];
  logger: Logger;
  /** Where the stdout sink writes (serve's LineOutput, which survives a full disk). */
  stdout?: StdoutTarget;
}

export function detectServeExtension(
  setup: DetectSetup,
): ServeExtension & { position(): number | undefined } {
  let running: { position(): number } | undefined;
  return {
    /** The running detector's position (entries evaluated, their alerts durable); undefined before it starts. */
    position: () => running?.position(),
    start: async (ingest, ctx) => {
      const config = setup.rulesConfig ? await readRulesConfig(setup.rulesConfig) : undefined;
      const live = await startLiveDetection({
        stateDir: setup.stateDir,
        log: ingest.log,
        pipeline: ingest.pipeline,
        rules: { builtins: true, dirs: setup.rulesDirs, config },
        sinks: await createSinks(config?.sinks ?? [{ type: "stdout" }], { stdout: setup.stdout }),
        registry: ctx.registry,
        onSinkError: (sink, err) => setup.logger.warn({ sink, err: err.message }, "alert delivery failed"),
        onRepair: (message) => setup.logger.warn({ repair: message }, "detector position rebuilt"),
        onError: (err) =>
          setup.logger.error(
            { err: err instanceof Error ? err.message : String(err) },
            "detector failed; retrying",
          ),
      });
      setup.logger.info({ from: live.from }, "detector started");
      running = { position: () => live.detector.stats().position };
      registerDetectorLag(
        ctx.registry,
        () => ingest.log.size(),
        () => running?.position(),
      );
      return live.stop;
    },
  };
}
