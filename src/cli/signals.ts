// Long-running commands stop in order on SIGTERM or SIGINT: the shutdown runs once, and its
// failure is reported and turned into a non-zero exit.
import type { Logger } from "pino";

export function untilSignal(shutdown: (reason: string) => Promise<void>, logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      shutdown(signal).then(resolve, (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "shutdown failed");
        process.exitCode = 1;
        resolve();
      });
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
