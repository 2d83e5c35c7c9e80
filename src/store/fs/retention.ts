// DATA/retention: which entry bundles were removed on purpose, and why. Retention removes
// whole bundles from the oldest on, so one number says which: every bundle wholly below
// `prunedBefore`. It is written (durably) before any bundle is removed, so a crash in between
// leaves bundles the record already counts as pruned, never a gap it does not explain.
import { promises as fsp } from "node:fs";
import { readFileIfExists, writeFileAtomic } from "../durable-file.js";
import { BUNDLE_SIZE, LogError } from "../types.js";
import type { FsLayout } from "./layout.js";

export interface RetentionRecord {
  /** Entries before this index (a multiple of 256) have no bundle any more. */
  prunedBefore: number;
  reason: string;
}

export async function readRetention(file: string): Promise<RetentionRecord | null> {
  const data = await readFileIfExists(file);
  if (data === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw new LogError("corrupt", `${file}: not JSON`, { cause: err });
  }
  const r = parsed as Partial<RetentionRecord> | null;
  if (
    r === null ||
    typeof r !== "object" ||
    !Number.isSafeInteger(r.prunedBefore) ||
    (r.prunedBefore as number) < 0 ||
    typeof r.reason !== "string"
  ) {
    throw new LogError("corrupt", `${file}: not a retention record ({"prunedBefore": N, "reason": "…"})`);
  }
  return { prunedBefore: r.prunedBefore as number, reason: r.reason };
}

export function writeRetention(file: string, record: RetentionRecord): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(record) + "\n");
}

/** Deletes the files of the full bundles holding entries [from, before) (both multiples of 256). */
export async function removeBundleFiles(layout: FsLayout, from: number, before: number): Promise<void> {
  for (let b = from / BUNDLE_SIZE; b < before / BUNDLE_SIZE; b++) {
    await fsp.rm(layout.compressedBundle(b), { force: true });
    await fsp.rm(layout.bundle(b), { force: true });
  }
}
