// `kubetrail reindex`: throw the query index away and rebuild it from the log.
import type { Command } from "commander";
import { openCliSession } from "./output/session.js";

export function registerReindex(program: Command): void {
  program
    .command("reindex")
    .description("rebuild DATA/index.db from the log (safe: the index is derived data)")
    .requiredOption("--data <dir>", "data directory")
    .action(async (o: { data: string }) => {
      const started = Date.now();
      const session = await openCliSession(o.data, { rebuild: true });
      try {
        session.index.optimize();
        const position = session.index.position();
        const seconds = (Date.now() - started) / 1000;
        process.stdout.write(
          `indexed ${position} entries in ${seconds.toFixed(1)}s (${Math.round(position / Math.max(seconds, 0.001))} entries/s)\n`,
        );
      } finally {
        session.close();
      }
    });
}
