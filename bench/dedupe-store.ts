// The durable dedupe store as it grows: what writing a record costs, and what a lookup costs,
// at each size up to --rows records. The store is the run store `serve` uses (RunStore: each
// flush sorted and written as an immutable run file by its writer thread, runs merged eight at
// a time in the background); it takes flushes of the most records the server hands it at once
// (--flush for others). Records are keyed by the 64-bit fingerprint of (auditID, stage), which
// is uniformly random. Merges are charged to the band of records that made them due: each band
// ends, inside the timing, once the store has no merge due or running.
//
// The baseline is the design it replaced: a SQLite B-tree table (seen, keyed by the fingerprint
// as a signed 64-bit integer) written the way the old DedupeWriter wrote it — same pragmas,
// each flush sorted and inserted 16 rows per statement in one transaction — here on the bench
// thread instead of a worker. Random keys dirty a B-tree page each, so its cost per record grew
// with the store (3.0 µs at 1M records to 6.4 µs at 4M); the run store writes every record
// sequentially, once per merge tier. Both stores are given the same records and asked the same
// lookups, and each checks every answer.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { FLUSH_MAX_RECORDS } from "../src/ingest/dedupe.js";
import type { KeyPrint } from "../src/ingest/key-hash.js";
import { RECORD_BYTES, RecordTable } from "../src/ingest/record-table.js";
import { RunStore } from "../src/ingest/run-store/run-store.js";
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

/** The same seeds for both stores: they hold the same records and are asked the same keys. */
const RECORD_SEED = 0x6b756265;
const SAMPLE_SEED = 0x73616d70;
const ABSENT_SEED = 0x61627365;
/** Lookups before the timed ones, at every band alike. */
const WARM_UP_LOOKUPS = 5_000;

/** What the bench asks of a store; each design is adapted to it, so both are driven alike. */
interface DedupeStore {
  /** Writes one flush and records that the log prefix `covered` is in the store. */
  write(records: RecordTable, covered: number): Promise<void>;
  /** Resolves once the work the writes started (merges) is done. */
  idle(): Promise<void>;
  /** Adds to `found` every hash (hex) the store holds for `print`; synchronous, as ingest asks. */
  collect(print: KeyPrint, found: string[]): void;
  /** Records held (a check that nothing was lost), and run files when the design has them. */
  held(): { records: number; runs?: number };
  close(): Promise<void>;
}

async function openRunStore(dir: string): Promise<DedupeStore> {
  const store = await RunStore.open(dir, { origin: "bench", hash: "sha256" });
  let failure: Error | null = null;
  // A merge fails in the background; the bench must not report figures of a store that lost one.
  store.onError = (err) => (failure ??= err);
  return {
    write: (records, covered) => store.write(records, covered),
    idle: async () => {
      await store.idle();
      if (failure !== null) throw failure;
    },
    collect: (print, found) => store.collect(print, found),
    held: () => {
      const { count, records } = store.runs();
      return { records, runs: count };
    },
    close: () => store.close(),
  };
}

/** Rows per INSERT statement, as the old writer: one statement per row cost twice as much per row. */
const INSERT_ROWS = 16;

/** The previous design's table, writes and lookup, on this thread (see the header). */
function openSqliteStore(dir: string): DedupeStore {
  const db = new Database(path.join(dir, "dedupe.db"));
  // No fsync (the store is derived from the log), and enough cache for the upper levels of the
  // B-tree and the pages a large flush touches.
  for (const p of ["journal_mode = WAL", "synchronous = OFF", "cache_size = -32768"]) db.pragma(p);
  db.exec(`
    CREATE TABLE seen (k INTEGER NOT NULL, h BLOB NOT NULL, PRIMARY KEY (k, h)) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const one = db.prepare("INSERT OR IGNORE INTO seen (k, h) VALUES (?, ?)");
  const many = db.prepare(
    `INSERT OR IGNORE INTO seen (k, h) VALUES ${Array<string>(INSERT_ROWS).fill("(?, ?)").join(", ")}`,
  );
  const setCovered = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('covered', ?)");
  const lookup = db.prepare<[bigint], { h: Buffer }>("SELECT h FROM seen WHERE k = ?");
  const count = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM seen");
  const write = db.transaction((rows: Buffer, covered: number) => {
    const n = rows.length / RECORD_BYTES;
    // In SQLite's key order (the fingerprint as a signed integer): consecutive inserts then land
    // on the same or the next page, a quarter to a third cheaper per row than random order.
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i * RECORD_BYTES;
    order.sort(
      (a, b) =>
        rows.readInt32BE(a) - rows.readInt32BE(b) || rows.readUInt32BE(a + 4) - rows.readUInt32BE(b + 4),
    );
    // A record starts with the fingerprint's halves big-endian: as one signed 64-bit integer,
    // that is the key SQLite stores.
    const row = (at: number): [bigint, Buffer] => [
      rows.readBigInt64BE(at),
      rows.subarray(at + 8, at + RECORD_BYTES),
    ];
    const args: (bigint | Buffer)[] = [];
    let r = 0;
    for (; r + INSERT_ROWS <= n; r += INSERT_ROWS) {
      args.length = 0;
      for (let j = r; j < r + INSERT_ROWS; j++) args.push(...row(order[j]!));
      many.run(...args);
    }
    for (; r < n; r++) one.run(...row(order[r]!));
    setCovered.run(String(covered));
  });
  return {
    write: async (records, covered) => {
      // The copy the old writer made to hand the records to its worker.
      const rows = records.toRows();
      write(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength), covered);
    },
    idle: async () => {},
    collect: (print, found) => {
      for (const { h } of lookup.all(BigInt.asIntN(64, (BigInt(print.hi) << 32n) | BigInt(print.lo))))
        found.push(h.toString("hex"));
    },
    held: () => ({ records: count.get()!.n }),
    close: async () => {
      db.close();
    },
  };
}

/**
 * A uniform sample of the records written so far (reservoir sampling, with an rng of its own so
 * the records do not depend on it): the keys of repeats and retries, for the present lookups.
 */
class RecordSample {
  private readonly prints: KeyPrint[] = [];
  private readonly hashes: string[] = [];
  private seen = 0;
  private readonly rng = makeRng(SAMPLE_SEED);

  constructor(private readonly size: number) {}

  offer(print: KeyPrint, hash: string): void {
    const slot = this.seen < this.size ? this.seen : this.rng.int(this.seen + 1);
    this.seen++;
    if (slot >= this.size) return;
    this.prints[slot] = print;
    this.hashes[slot] = hash;
  }

  entries(): { print: KeyPrint; hash: string }[] {
    return this.prints.map((print, i) => ({ print, hash: this.hashes[i]! }));
  }
}

/** A fingerprint as ingest makes them: uniformly random. */
function randomPrint(rng: Rng): KeyPrint {
  return { hi: rng.int(2 ** 32), lo: rng.int(2 ** 32) };
}

/** Random fingerprints: new keys (a false match among 2^64 is not going to happen). */
function randomPrints(count: number, rng: Rng): KeyPrint[] {
  return Array.from({ length: count }, () => randomPrint(rng));
}

/** Fills `records` with `count` records: random fingerprints, each with a random content hash. */
function fillFlush(records: RecordTable, count: number, rng: Rng, sample: RecordSample): void {
  records.clear();
  while (records.size < count) {
    const print = randomPrint(rng);
    const hash = rng.hex(64);
    if (records.add(print, hash)) sample.offer(print, hash);
  }
}

interface Band {
  /** Records in the store at the end of the band. */
  records: number;
  cpuUsPerRecord: number;
  wallUsPerRecord: number;
  runs?: number;
  storeMB: number;
  absentUs: number;
  presentUs: number;
}

/** µs per lookup for `prints`; throws unless each finds exactly `expect(i)`'s hash, or nothing. */
function timeLookups(
  store: DedupeStore,
  prints: readonly KeyPrint[],
  expect: (i: number) => string | null,
): number {
  const found: string[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < prints.length; i++) {
    found.length = 0;
    store.collect(prints[i]!, found);
    // Checked as it goes (a comparison, nothing beside the lookup's cost): a wrong answer fails the bench.
    const want = expect(i);
    if (want === null ? found.length !== 0 : !found.includes(want))
      throw new Error(`dedupe store: lookup ${i} found [${found.join(", ")}], expected ${want ?? "nothing"}`);
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / prints.length;
}

function dirMB(dir: string): number {
  let bytes = 0;
  for (const f of readdirSync(dir)) bytes += statSync(path.join(dir, f)).size;
  return bytes / 1e6;
}

interface Sizes {
  total: number;
  band: number;
  flush: number;
  lookups: number;
}

/**
 * Writes `total` records to the store in `dir` in flushes, and after each band of records
 * times the lookups. A band's flushes are made before its clock starts, so the merges they set
 * off overlap nothing but the band's own writes, and all of their CPU is counted.
 */
async function run(name: string, open: (dir: string) => Promise<DedupeStore>, sizes: Sizes): Promise<Band[]> {
  const { total, band, flush, lookups } = sizes;
  const dir = tempDir(`dedupe-${name}`);
  const store = await open(dir);
  const rng = makeRng(RECORD_SEED);
  const absentRng = makeRng(ABSENT_SEED);
  const sample = new RecordSample(lookups);
  const tables = Array.from({ length: band / flush }, () => new RecordTable(flush));
  const bands: Band[] = [];
  try {
    for (let written = 0; written < total;) {
      for (const t of tables) fillFlush(t, flush, rng, sample);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const t of tables) {
        written += t.size;
        await store.write(t, written);
      }
      await store.idle();
      const wall = Number(process.hrtime.bigint() - t0) / 1e3;
      const c = process.cpuUsage(c0);
      // A merged-away run's file is removed once the reader has let it go, a message after the
      // merge: this second wait (untimed) lets that happen before the directory is measured.
      await store.idle();
      const held = store.held();
      if (held.records !== written)
        throw new Error(`${name}: ${held.records} records held, ${written} written`);

      // Untimed first: otherwise the first band's figures are mostly the compiler warming up.
      timeLookups(store, randomPrints(WARM_UP_LOOKUPS, absentRng), () => null);
      const absentUs = timeLookups(store, randomPrints(lookups, absentRng), () => null);
      const present = sample.entries();
      const presentUs = timeLookups(
        store,
        present.map((e) => e.print),
        (i) => present[i]!.hash,
      );

      bands.push({
        records: written,
        cpuUsPerRecord: (c.user + c.system) / band,
        wallUsPerRecord: wall / band,
        ...(held.runs !== undefined ? { runs: held.runs } : {}),
        storeMB: dirMB(dir),
        absentUs,
        presentUs,
      });
      const b = bands.at(-1)!;
      log(
        `dedupe-store: ${name} ${written} records, ${b.cpuUsPerRecord.toFixed(2)} µs/record CPU, ` +
          `lookups ${absentUs.toFixed(2)} µs absent, ${presentUs.toFixed(2)} µs present`,
      );
    }
  } finally {
    await store.close();
    removeTemp(dir);
  }
  return bands;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const flush = intOption(args, "flush", FLUSH_MAX_RECORDS);
  const band = intOption(args, "band", args.quick ? 262_144 : 1_048_576);
  const total = intOption(args, "rows", args.quick ? 1_048_576 : 4_194_304);
  const lookups = intOption(args, "lookups", 20_000);
  if (band % flush !== 0) throw new RangeError(`--band must be a multiple of --flush (${flush})`);
  if (total % band !== 0) throw new RangeError(`--rows must be a multiple of --band (${band})`);
  const sizes = { total, band, flush, lookups };
  const runs = await run("run-store", openRunStore, sizes);
  const sqlite = await run("sqlite", async (dir) => openSqliteStore(dir), sizes);
  const fmt = (x: number): string => x.toFixed(2);
  const asked = lookups.toLocaleString("en-US");
  process.stdout.write(
    `\n#### Dedupe store: cost per record written and per lookup as the store grows (flushes of ${flush.toLocaleString("en-US")}, ${asked} lookups of each kind)\n\n` +
      markdownTable(
        [
          "records in store",
          "run store: write CPU µs/record",
          "wall µs/record",
          "runs",
          "store MB",
          "absent lookup µs",
          "present lookup µs",
          "SQLite B-tree (baseline): write CPU µs/record",
          "wall µs/record",
          "store MB",
          "absent lookup µs",
          "present lookup µs",
          "SQLite ÷ run store (write CPU)",
        ],
        runs.map((r, i) => {
          const s = sqlite[i]!;
          return [
            r.records.toLocaleString("en-US"),
            fmt(r.cpuUsPerRecord),
            fmt(r.wallUsPerRecord),
            String(r.runs),
            r.storeMB.toFixed(0),
            fmt(r.absentUs),
            fmt(r.presentUs),
            fmt(s.cpuUsPerRecord),
            fmt(s.wallUsPerRecord),
            s.storeMB.toFixed(0),
            fmt(s.absentUs),
            fmt(s.presentUs),
            `${(s.cpuUsPerRecord / r.cpuUsPerRecord).toFixed(1)}×`,
          ];
        }),
      ) +
      "\n",
  );
  printNote(
    "Each row is the records written since the row above. Write CPU is user+system of the whole " +
      "process (the run store's writer thread included) from the band's first flush until the store " +
      "is idle — every merge the band made due, with its fdatasync of each run file — divided by the " +
      "band's records; wall likewise; generating the records is outside the timing. Merges come in " +
      "tiers: eight runs of a tier make one of the next, so a band of 1M records carries the merge of " +
      "its eight flushes, and the band that completes 8M records also the merge of eight 1M runs. " +
      "The SQLite baseline writes on the bench thread (the old writer's worker did the same work) " +
      "with synchronous = OFF, so it never syncs. runs: run files live at the end of the band; store " +
      "MB: the store's directory (SQLite: the database and its WAL). Lookups are on the bench thread, " +
      `after the band: ${asked} random fingerprints (new events, the common case: the run store's store-wide ` +
      "Bloom filter answers them from memory; the baseline asks SQLite, where the old server first " +
      `asked a 16 MB in-memory filter) and ${asked} fingerprints sampled uniformly from every record ` +
      "written (repeats and retries: one block read per run whose filter says maybe), each answer " +
      "checked. The files were just written, so reads come from the page cache.",
  );
}

runIfMain(import.meta.url, main);
