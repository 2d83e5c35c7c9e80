// Checkpoints that contradict what a witness or mirror holds are kept as files, each naming both
// checkpoints: a validly signed pair of them is proof, for anyone, that the log forked (showed
// two histories) or rolled back. The number of files is bounded: only the log's key holder can
// make them, but a broken log must not fill the disk.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../store/durable-file.js";
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
