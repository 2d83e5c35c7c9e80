// The detector's progress through the log (DATA/detect.position): the index of the next entry
// to evaluate. Saved only after the alerts of a batch are durable in the log, so a restart
// neither re-raises nor skips alerts.
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { DetectError } from "./types.js";

export async function readPosition(file: string): Promise<number> {
  let data: Buffer | null;
  try {
    data = await readFileIfExists(file);
  } catch (err) {
    throw new DetectError("position", `${file}: ${(err as Error).message}`, { cause: err });
  }
  if (data === null) return 0;
  const text = data.toString("utf8").trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new DetectError(
      "position",
      `${file}: expected a log index, found ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return n;
}

export function writePosition(file: string, position: number): Promise<void> {
  return writeFileAtomic(file, `${position}\n`);
}
