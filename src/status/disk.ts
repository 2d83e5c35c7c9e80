// Disk use of a data directory by part, as `du` counts it: allocated blocks of every file and
// directory, each inode once. Read-only: it only lists and stats, so it runs beside a serve
// that writes, and a file that vanishes between the listing and its stat is simply not counted.
import { promises as fsp, type Stats } from "node:fs";
import path from "node:path";

/** The parts a data directory is made of (docs/operations.md "Status"), in display order. */
const DISK_PARTS = [
  "bundles-compressed",
  "bundles-plain",
  "hash-tiles",
  "checkpoints",
  "wal",
  "index",
  "dedupe",
  "detector",
  "guard",
  "other",
] as const;
export type DiskPart = (typeof DISK_PARTS)[number];

export interface DiskUse {
  part: DiskPart;
  /** Allocated bytes (blocks × 512), what `du` counts. */
  bytes: number;
  /** Bytes of content (file sizes). */
  apparentBytes: number;
  files: number;
}

export interface DiskReport {
  parts: DiskUse[];
  total: Omit<DiskUse, "part">;
}

/**
 * Which part a file belongs to, by its path relative to the data directory ("/"-separated).
 * Directories themselves (their blocks) are "other": they are overhead of every part.
 */
function diskPartOf(rel: string): DiskPart {
  const [top = "", second] = rel.split("/");
  if (top === "tile") {
    if (second === "entries") return rel.endsWith(".zst") ? "bundles-compressed" : "bundles-plain";
    return "hash-tiles";
  }
  if (top === "wal") return "wal";
  if (top === "dedupe") return "dedupe";
  if (top === "guard") return "guard";
  // Temporary files of an atomic replace are `.<name>.<pid>.tmp` beside the file they replace.
  const name = top.replace(/^\.(.+)\.\d+\.tmp$/, "$1");
  if (/^index\.db(-wal|-shm|-journal)?$/.test(name)) return "index";
  if (name === "checkpoint" || name === "published-checkpoint") return "checkpoints";
  if (name === "detect.position") return "detector";
  return "other";
}

/** Walks `dataDir` and sums each part; never follows symbolic links (counted as themselves). */
export async function diskUse(dataDir: string): Promise<DiskReport> {
  const sums = new Map<DiskPart, DiskUse>(
    DISK_PARTS.map((part) => [part, { part, bytes: 0, apparentBytes: 0, files: 0 }]),
  );
  const seen = new Set<string>();
  const add = (part: DiskPart, st: Stats, isFile: boolean): void => {
    // Hard links (none are made by kubetrail, but a copy may have them) count once, as in du.
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    const s = sums.get(part)!;
    s.bytes += st.blocks * 512;
    s.apparentBytes += st.size;
    if (isFile) s.files++;
  };
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const file = path.join(dir, name);
      const relative = rel === "" ? name : `${rel}/${name}`;
      let st: Stats;
      try {
        st = await fsp.lstat(file);
      } catch (err) {
        // Replaced or removed by a running serve since the listing (a partial tile, a WAL slot).
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      if (st.isDirectory()) {
        add("other", st, false);
        await walk(file, relative);
      } else {
        add(diskPartOf(relative), st, true);
      }
    }
  };
  add("other", await fsp.lstat(dataDir), false);
  await walk(dataDir, "");
  const parts = [...sums.values()];
  const total = parts.reduce(
    (t, p) => ({
      bytes: t.bytes + p.bytes,
      apparentBytes: t.apparentBytes + p.apparentBytes,
      files: t.files + p.files,
    }),
    { bytes: 0, apparentBytes: 0, files: 0 },
  );
  return { parts, total };
}
