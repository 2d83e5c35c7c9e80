// Checkpoints that contradict what a witness or mirror holds are kept as files, each naming both
// checkpoints: a validly signed pair of them is proof, for anyone, that the log forked (showed
// two histories) or rolled back. The number of files is bounded: only the log's key holder can
// make them, but a broken log must not fill the disk.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../store/durable-file.js";
import type { Logger } from "pino";
import type { AlertSink, RecordedAlert } from "../detect/types.js";
import { originHash } from "./witness.js";

const MAX_FILES = 1000;

export interface Contradiction {
  origin: string;
  held: string;
  shown: string;
  reason: string;
}

/** Writes `c` under DIR/evidence/ and returns the file's path (null once the cap is reached). */
export async function keepEvidence(
  dataDir: string,
  c: Contradiction,
  now = new Date(),
): Promise<string | null> {
  const dir = path.join(dataDir, "evidence");
  await fsp.mkdir(dir, { recursive: true });
  if ((await fsp.readdir(dir)).length >= MAX_FILES) return null;
  const file = path.join(
    dir,
    `${now.toISOString().replace(/[:.]/g, "-")}-${originHash(c.origin).slice(0, 12)}-${process.pid}.txt`,
  );
  const text = [
    `origin: ${c.origin}`,
    `reason: ${c.reason}`,
    "",
    "--- checkpoint held (signed by the log, cosigned here) ---",
    c.held.trimEnd(),
    "",
    "--- checkpoint shown (signed by the log) ---",
    c.shown.trimEnd(),
    "",
  ].join("\n");
  await writeFileAtomic(file, text);
  return file;
}

export interface ContradictionReporting {
  dataDir: string;
  /** The witness's or mirror's name, for the alert. */
  who: string;
  logger: Logger;
  /** Alert sinks (from --rules-config); the alert also goes to the log output. */
  sinks: readonly AlertSink[];
  onReported?: () => void;
}

/** The alert sent for a contradiction: the split-view detector's output, naming both checkpoints. */
export function splitViewAlert(
  c: Contradiction,
  who: string,
  file: string | null,
  now = new Date(),
): RecordedAlert {
  const head = (note: string): string => note.split("\n").slice(0, 3).join(" ");
  return {
    apiVersion: "kubetrail.dev/v1",
    kind: "Alert",
    rule: "split-view",
    title: `Split view: the log ${c.origin} showed ${who} a checkpoint that contradicts the one it holds`,
    severity: "critical",
    description:
      `${c.reason}. Held: ${head(c.held)}. Shown: ${head(c.shown)}.` +
      (file ? ` Both signed checkpoints are kept in ${file}.` : ""),
    user: "",
    object: {},
    time: now.toISOString(),
    auditIDs: [],
    indexes: [],
    source: who,
  };
}

/** Keeps the evidence, logs it with both checkpoints in full, and sends the split-view alert. */
export function reportContradiction(c: Contradiction, r: ContradictionReporting): void {
  r.onReported?.();
  void keepEvidence(r.dataDir, c)
    .catch((err: unknown) => {
      r.logger.error(
        { err: (err as Error).message },
        "could not keep the evidence of a contradicting checkpoint",
      );
      return null;
    })
    .then(async (file) => {
      r.logger.error(
        { origin: c.origin, reason: c.reason, evidence: file, held: c.held, shown: c.shown },
        "refused a checkpoint that contradicts the one held: the log may have forked (split view)",
      );
      const alert = splitViewAlert(c, r.who, file);
      await Promise.all(
        r.sinks.map((s) =>
          s
            .send(alert)
            .catch((err: unknown) =>
              r.logger.error(
                { sink: s.name, err: (err as Error).message },
                "could not send the split-view alert",
              ),
            ),
        ),
      );
    });
}
