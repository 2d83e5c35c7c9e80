// Progress for long work (verify, import, indexing): a bar on stderr when it is a terminal,
// nothing when output goes to a pipe, a file or CI, so machine output stays clean.
import { SingleBar } from "cli-progress";

export interface Progress {
  /** `done` of `total` units; the bar appears on the first update. */
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(label: string, unit: string, enabled = true): Progress {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`,
    stream: process.stderr,
  });
  let started = false;
  return {
    update(done, total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
