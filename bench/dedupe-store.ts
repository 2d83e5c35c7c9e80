// The durable dedupe store's write cost as it grows: the real DedupeWriter (the worker `serve`
// uses) takes flushes of the most records the server hands it at once (--flush for others),
// until the store holds --rows records. Records are keyed by the 64-bit fingerprint of
// (auditID, stage), which is uniformly random, so every flush lands all over the B-tree. The
// baseline writes the same number of records with ascending keys, which every flush appends at
// the B-tree's right edge: the gap between the two is the price of random placement, not of
// SQLite or of the worker.
import { statSync } from "node:fs";
import path from "node:path";
import { FLUSH_MAX_RECORDS } from "../src/ingest/dedupe.js";
import { DedupeWriter, openSeenStore } from "../src/ingest/dedupe-writer.js";
import { RecordTable } from "../src/ingest/record-table.js";
import { makeRng, type Rng } from "./gen/rng.js";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  printNote,
  removeTemp,
  runIfMain,
  tempDir,
} from "./harness.js";

type KeyOrder = "random" | "ascending";

/** One flush of records: fingerprints in `order`, each with a random content hash. */
function flushRows(order: KeyOrder, first: number, count: number, rng: Rng): RecordTable {
  const records = new RecordTable(count);
  for (let n = first; n < first + count; n++) {
    const print =
      order === "random"
        ? { hi: rng.int(2 ** 32), lo: rng.int(2 ** 32) }
        : { hi: Math.floor(n / 2 ** 32), lo: n >>> 0 };
    records.add(print, rng.hex(64));
  }
  return records;
}

function storeMB(file: string): number {
  const size = (f: string): number => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };
  return (size(file) + size(`${file}-wal`)) / 1e6;
}

interface Band {
  /** Records in the store at the end of the band. */
  rows: number;
  cpuUsPerRow: number;
  wallUsPerRow: number;
  storeMB: number;
}

/** Writes `total` records in flushes; CPU and wall are taken around the writes only. */
async function run(order: KeyOrder, total: number, band: number, flush: number): Promise<Band[]> {
  const dir = tempDir(`dedupe-${order}`);
  const file = path.join(dir, "dedupe.db");
  // The store as Deduper.open creates it, before it starts the writer.
  openSeenStore(file).close();
  const writer = new DedupeWriter(file);
  const rng = makeRng(0x6b756265);
  const bands: Band[] = [];
  let cpu = 0;
  let wall = 0;
  try {
    for (let written = 0; written < total;) {
      const rows = flushRows(order, written, flush, rng);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await writer.write(rows, written + rows.size);
      wall += Number(process.hrtime.bigint() - t0) / 1e3;
      const c = process.cpuUsage(c0);
      cpu += c.user + c.system;
      written += rows.size;
      if (written % band === 0 || written >= total) {
        const n = written - (bands.at(-1)?.rows ?? 0);
        bands.push({ rows: written, cpuUsPerRow: cpu / n, wallUsPerRow: wall / n, storeMB: storeMB(file) });
        log(`dedupe-store: ${order} ${written} records, ${(cpu / n).toFixed(2)} µs/record`);
        cpu = 0;
        wall = 0;
      }
    }
  } finally {
    await writer.close();
    removeTemp(dir);
  }
  return bands;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const flush = intOption(args, "flush", FLUSH_MAX_RECORDS);
  const band = intOption(args, "band", args.quick ? 262_144 : 1_048_576);
  const total = intOption(args, "rows", args.quick ? 1_048_576 : 4_194_304);
  if (band % flush !== 0) throw new RangeError(`--band must be a multiple of --flush (${flush})`);
  if (total % band !== 0) throw new RangeError(`--rows must be a multiple of --band (${band})`);
  const random = await run("random", total, band, flush);
  const ascending = await run("ascending", total, band, flush);
  const fmt = (x: number): string => x.toFixed(2);
  process.stdout.write(
    `\n#### Dedupe store: write cost per record as the store grows (flushes of ${flush.toLocaleString("en-US")})\n\n` +
      markdownTable(
        [
          "records in store",
          "random keys (fingerprints): CPU µs/record",
          "wall µs/record",
          "store MB",
          "ascending keys (baseline): CPU µs/record",
          "wall µs/record",
          "store MB",
          "random ÷ ascending (CPU)",
        ],
        random.map((r, i) => {
          const a = ascending[i]!;
          return [
            r.rows.toLocaleString("en-US"),
            fmt(r.cpuUsPerRow),
            fmt(r.wallUsPerRow),
            r.storeMB.toFixed(0),
            fmt(a.cpuUsPerRow),
            fmt(a.wallUsPerRow),
            a.storeMB.toFixed(0),
            `${(r.cpuUsPerRow / a.cpuUsPerRow).toFixed(1)}×`,
          ];
        }),
      ) +
      "\n",
  );
  printNote(
    "Each row is the records written since the row above (CPU of the whole process: the writer's worker " +
      "and the copy of the records handed to it; generating them is outside the timing). The server " +
      "writes every ingested event once to this store, so a random-key CPU figure adds to the server's CPU " +
      "per event when the store is that size.",
  );
}

runIfMain(import.meta.url, main);
