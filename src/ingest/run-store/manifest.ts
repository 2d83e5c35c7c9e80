// The store's manifest: which runs are live, and which prefix of the log they cover. It is the
// only file ever replaced (atomically), so a crash leaves the old set or the new one; run files
// it does not name are leftovers of an interrupted write or merge, removed on open.
import { readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../../store/durable-file.js";
import { isRecord } from "../../json/record.js";
import { StoreCorruptError } from "./corrupt.js";

export const MANIFEST = "manifest.json";
const FORMAT = "kubetrail-dedupe-runs/1";

/** Which log, and which kind of content hash, the records are of. */
export interface StoreIdentity {
  origin: string;
  hash: string;
}

export interface Manifest extends StoreIdentity {
  /** Log prefix whose audit events all have their records in the live runs. */
  covered: number;
  /** Number of the next run file. */
  next: number;
  runs: { name: string; records: number }[];
  /** Set when a run was found damaged: the store is rebuilt on the next open. */
  damaged?: string;
}

export function emptyManifest(identity: StoreIdentity): Manifest {
  return { origin: identity.origin, hash: identity.hash, covered: 0, next: 1, runs: [] };
}

/** The manifest in `dir`, or null when there is none; StoreCorruptError when it is not one. */
export function readManifest(dir: string): Manifest | null {
  let text: string;
  try {
    text = readFileSync(path.join(dir, MANIFEST), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new StoreCorruptError(MANIFEST, "not JSON");
  }
  if (
    !isRecord(m) ||
    m.format !== FORMAT ||
    typeof m.origin !== "string" ||
    typeof m.hash !== "string" ||
    !Number.isSafeInteger(m.covered) ||
    !Number.isSafeInteger(m.next) ||
    !Array.isArray(m.runs) ||
    !m.runs.every((r) => isRecord(r) && typeof r.name === "string" && Number.isSafeInteger(r.records))
  ) {
    throw new StoreCorruptError(MANIFEST, `not a ${FORMAT} manifest`);
  }
  return m as unknown as Manifest;
}

export function writeManifest(dir: string, m: Manifest): Promise<void> {
  return writeFileAtomic(path.join(dir, MANIFEST), JSON.stringify({ format: FORMAT, ...m }) + "\n");
}

/** The file name of run number `n`: names sort in the order the runs were made. */
export function runName(n: number): string {
  return `${String(n).padStart(12, "0")}.run`;
}
