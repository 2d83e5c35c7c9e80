// Disk per event, and how entry bundles are best compressed at rest. On the same JSON lines:
// the raw lines (what the apiserver's log backend writes), `gzip -6` of the whole file (what a
// log shipper's archive costs), a kubetrail data directory with plain bundles (the project
// before compression) and with bundles compressed as `serve` stores them, each part counted
// (bundles, tiles, index, the rest). Then the candidate formats for one bundle on its own
// (zstd levels, DEFLATE, Brotli): ratio, and compress and decompress speed on one core.
// Two corpora: real kube-apiserver v1.20.2 output (bench/fixtures/real-apiserver.jsonl.gz,
// recorded by capture-real.ts) and the generated one.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  gunzipSync,
  inflateRawSync,
} from "node:zlib";
import { compress as zstdCompress, decompress as zstdDecompress } from "zstd-napi";
import { startIndexer } from "../src/index/indexer.js";
import {
  bundleFrames,
  compressBundle,
  decompressBundle,
  decompressFrame,
  DEFAULT_ENTRIES_PER_FRAME,
} from "../src/store/bundle-codec.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { DEFAULT_WAL_OPTIONS } from "../src/store/fs/write-ahead-log.js";
import { REAL_FIXTURE } from "./capture-real.js";
import { intOption, log, markdownTable, parseBenchArgs, printNote, runIfMain, tempDir } from "./harness.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { benchFixture } from "./lib/paths.js";
import { postgresDisk } from "./lib/pg-disk.js";
import { generatedEntries } from "./lib/workload.js";

const BUNDLE = 256;
const APPEND_BATCH = 1000;
/** Codec timings are the best of this many passes over every bundle (the machine is shared). */
const ROUNDS = 5;

interface Corpus {
  name: string;
  lines: Buffer[];
}

/** Bytes a directory takes on disk (allocated blocks) and as file sizes, by part. */
interface DiskUse {
  parts: Map<string, { disk: number; bytes: number }>;
}

/** The part of a data directory a file belongs to. */
function partOf(rel: string): string {
  if (rel.startsWith(`tile${path.sep}entries${path.sep}`)) return "bundles";
  if (rel.startsWith(`tile${path.sep}`)) return "tiles";
  if (rel.startsWith("index.db")) return "index";
  if (rel.startsWith(`wal${path.sep}`)) return "wal";
  if (rel.startsWith(`dedupe${path.sep}`)) return "dedupe";
  return "other";
}

function diskUse(dir: string): DiskUse {
  const parts = new Map<string, { disk: number; bytes: number }>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
        continue;
      }
      const st = statSync(p);
      const part = partOf(path.relative(dir, p));
      const sum = parts.get(part) ?? { disk: 0, bytes: 0 };
      sum.disk += st.blocks * 512;
      sum.bytes += st.size;
      parts.set(part, sum);
    }
  };
  walk(dir);
  return { parts };
}

/**
 * A kubetrail data directory holding `lines` (bundles plain, or compressed in frames of
 * `perFrame` entries), with its index built.
 */
async function kubetrailDir(
  dir: string,
  lines: Buffer[],
  perFrame: number | null,
): Promise<{ seconds: number; walWhileOpen: number }> {
  const compressed = perFrame !== null;
  const started = process.hrtime.bigint();
  const logged = await openFsLog(dir, compressed ? { entriesPerFrame: perFrame } : { compressLevel: null });
  let walWhileOpen = 0;
  try {
    for (let i = 0; i < lines.length; i += APPEND_BATCH)
      await logged.append(lines.slice(i, i + APPEND_BATCH));
    await logged.waitIntegrated(lines.length);
    if (compressed) await logged.driver.compactAll();
    const indexer = startIndexer(logged, dir);
    await indexer.caughtUp();
    await indexer.stop();
    // The write-ahead slots a running log keeps (a fixed ring); a clean close removes them.
    walWhileOpen = diskUse(dir).parts.get("wal")?.disk ?? 0;
  } finally {
    await logged.close();
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, walWhileOpen };
}

/**
 * A kubetrail data directory filled the way users fill one: `kubetrail import` (the ingest path
 * serve shares: normalised entries, the dedupe store) then `kubetrail reindex`.
 */
function importedDir(dir: string, jsonl: string): number {
  const started = process.hrtime.bigint();
  const cli = kubetrailCli();
  execFileSync(process.execPath, [cli, "import", "--data", dir, jsonl], { stdio: "ignore" });
  execFileSync(process.execPath, [cli, "reindex", "--data", dir], { stdio: "ignore" });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

interface Codec {
  name: string;
  compress(b: Buffer): Buffer;
  decompress(b: Buffer): Buffer;
}

const CODECS: Codec[] = [
  ...[1, 3, 9, 19].map((level): Codec => ({
    name: `zstd -${level}${level === 3 ? " (kubetrail's)" : ""}`,
    compress: (b) => zstdCompress(b, { compressionLevel: level, checksumFlag: true }),
    decompress: (b) => zstdDecompress(b),
  })),
  {
    name: "DEFLATE -6 (gzip's)",
    compress: (b) => deflateRawSync(b, { level: 6 }),
    decompress: (b) => inflateRawSync(b),
  },
  {
    name: "Brotli -5",
    compress: (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }),
    decompress: (b) => brotliDecompressSync(b),
  },
];

/** The full bundles of `lines`, as stored: one entry per line. */
function bundles(lines: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i + BUNDLE <= lines.length; i += BUNDLE)
    out.push(Buffer.concat(lines.slice(i, i + BUNDLE).flatMap((l) => [l, Buffer.from("\n")])));
  return out;
}

function mb(bytes: number, seconds: number): string {
  return (bytes / 1e6 / seconds).toFixed(0);
}

function perEvent(bytes: number, events: number): string {
  return (bytes / events).toFixed(0);
}

const PARTS = ["bundles", "tiles", "index", "dedupe", "wal", "other"];

async function diskTable(corpus: Corpus): Promise<void> {
  const events = corpus.lines.length;
  const dir = tempDir(`storage-${corpus.name.split(" ")[0]}`);
  const jsonl = path.join(dir, "audit.jsonl");
  writeFileSync(jsonl, Buffer.concat(corpus.lines.flatMap((l) => [l, Buffer.from("\n")])));
  const raw = statSync(jsonl).size;
  log(`storage: ${corpus.name}: gzip -6`);
  const gzStarted = process.hrtime.bigint();
  const gz = execFileSync("gzip", ["-6", "-c", jsonl], { maxBuffer: 4 * raw + 1e6 }).length;
  const gzSeconds = Number(process.hrtime.bigint() - gzStarted) / 1e9;

  const rows: string[][] = [];
  const row = (name: string, parts: Record<string, number>, seconds: number | null): void => {
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    rows.push([
      name,
      ...PARTS.map((p) => (parts[p] === undefined ? "" : perEvent(parts[p]!, events))),
      perEvent(total, events),
      `${(raw / total).toFixed(1)}×`,
      seconds === null ? "" : seconds.toFixed(1),
    ]);
  };
  row("raw JSON lines", { bundles: raw }, null);
  row("`gzip -6` of the JSON lines", { bundles: gz }, gzSeconds);
  log(`storage: ${corpus.name}: PostgreSQL`);
  const pgDisk = await postgresDisk(corpus.lines);
  if ("skipped" in pgDisk) printNote(`PostgreSQL row skipped: ${pgDisk.skipped}`);
  else
    row(
      "PostgreSQL, jsonb rows + forensic indexes (table in bundles)",
      { bundles: pgDisk.table, index: pgDisk.indexes },
      pgDisk.seconds,
    );
  const variants: [string, number | null][] = [
    ["kubetrail, plain bundles (before compression)", null],
    ["kubetrail, zstd bundles as one frame each (before seekable frames)", BUNDLE],
    [
      `kubetrail, zstd bundles in seekable frames of ${DEFAULT_ENTRIES_PER_FRAME} entries`,
      DEFAULT_ENTRIES_PER_FRAME,
    ],
  ];
  const walNotes: string[] = [];
  for (const [name, perFrame] of variants) {
    const data = path.join(dir, perFrame === null ? "plain" : `zstd-${perFrame}`);
    log(`storage: ${corpus.name}: ${name}`);
    const { seconds, walWhileOpen } = await kubetrailDir(data, corpus.lines, perFrame);
    walNotes.push(
      `${name}: ${perEvent(walWhileOpen, events)} B/ev (${(walWhileOpen / 2 ** 20).toFixed(1)} MiB)`,
    );
    const use = diskUse(data);
    const parts = Object.fromEntries([...use.parts].map(([k, v]) => [k, v.disk]));
    row(name, parts, seconds);
    if (perFrame !== null) {
      const without = { ...parts };
      delete without["index"];
      row(`${name.replace(/ \((before|now)[^)]*\)$/, "")}, without the index`, without, null);
    }
  }
  {
    const name = "kubetrail import, as serve ingests (dedupe store, normalised entries) (now)";
    log(`storage: ${corpus.name}: ${name}`);
    const data = path.join(dir, "imported");
    const seconds = importedDir(data, jsonl);
    row(name, Object.fromEntries([...diskUse(data).parts].map(([k, v]) => [k, v.disk])), seconds);
  }
  process.stdout.write(
    `\n#### Disk per event: ${corpus.name} (${events.toLocaleString("en-US")} events, ${perEvent(raw, events)} bytes of JSON each)\n\n`,
  );
  process.stdout.write(
    markdownTable(
      [
        "stored as",
        "bundles B/ev",
        "tiles B/ev",
        "index B/ev",
        "dedupe B/ev",
        "WAL B/ev",
        "other B/ev",
        "all-in B/ev",
        "raw ÷ all-in",
        "write s",
      ],
      rows,
    ) + "\n",
  );
  printNote(
    `Sizes after a clean close, which leaves no write-ahead slot. While the log runs its write-ahead slots (a ring of at most ${DEFAULT_WAL_OPTIONS.maxSlots} × ${DEFAULT_WAL_OPTIONS.slotBytes / 2 ** 20} MiB) add: ${walNotes.join("; ")}.`,
  );
}

function codecTable(corpus: Corpus): void {
  const full = bundles(corpus.lines);
  if (full.length === 0) return;
  const plain = full.reduce((a, b) => a + b.length, 0);
  const rows: string[][] = [];
  for (const codec of CODECS) {
    // A warm-up bundle, then the whole set timed, best of ROUNDS; every round trip checked.
    codec.decompress(codec.compress(full[0]!));
    let cs = Infinity;
    let ds = Infinity;
    let packed: Buffer[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let t = process.hrtime.bigint();
      packed = full.map((b) => codec.compress(b));
      cs = Math.min(cs, Number(process.hrtime.bigint() - t) / 1e9);
      t = process.hrtime.bigint();
      const unpacked = packed.map((b) => codec.decompress(b));
      ds = Math.min(ds, Number(process.hrtime.bigint() - t) / 1e9);
      unpacked.forEach((b, i) => {
        if (!b.equals(full[i]!)) throw new Error(`${codec.name}: bundle ${i} did not round-trip`);
      });
      // The slowest level once is enough to know it is slow.
      if (cs > 5) break;
    }
    const stored = packed.reduce((a, b) => a + b.length, 0);
    rows.push([
      codec.name,
      `${(plain / stored).toFixed(1)}×`,
      perEvent(stored, full.length * BUNDLE),
      mb(plain, cs),
      mb(plain, ds),
    ]);
  }
  process.stdout.write(
    `\n#### One bundle at a time: ${corpus.name} (${full.length} full bundles, ${(plain / 1e6).toFixed(1)} MB)\n\n`,
  );
  process.stdout.write(
    markdownTable(["format", "ratio", "B/event", "compress MB/s", "decompress MB/s"], rows) + "\n",
  );
}

/**
 * How many entries a frame of a stored bundle should hold: bundles stored as kubetrail stores
 * them (zstd -3, seekable frames) with 256 (one frame, as first stored) down to 4 entries per
 * frame. Reading one entry decompresses its frame: the cost per entry read is the time to
 * decompress one frame, and the bytes it decompresses (a figure load does not change).
 */
function frameTable(corpus: Corpus): void {
  const full = bundles(corpus.lines);
  if (full.length === 0) return;
  const plain = full.reduce((a, b) => a + b.length, 0);
  const rows: string[][] = [];
  for (const perFrame of [256, 64, 32, 16, 8, 4]) {
    const stored = full.map((b) => compressBundle(b, 3, perFrame));
    const tables = stored.map((b, i) => bundleFrames(b, `bundle ${i}`));
    let frames = 0;
    let oneFrame = Infinity;
    let whole = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      let t = process.hrtime.bigint();
      frames = 0;
      stored.forEach((b, i) =>
        tables[i]!.frames.forEach((f, k) => {
          decompressFrame(b, f, `bundle ${i}`, k);
          frames++;
        }),
      );
      oneFrame = Math.min(oneFrame, Number(process.hrtime.bigint() - t) / 1e3 / frames);
      t = process.hrtime.bigint();
      const back = stored.map((b, i) => decompressBundle(b, `bundle ${i}`));
      whole = Math.min(whole, Number(process.hrtime.bigint() - t) / 1e9);
      back.forEach((b, i) => {
        if (!b.equals(full[i]!))
          throw new Error(`${perFrame} entries per frame: bundle ${i} did not round-trip`);
      });
    }
    const bytes = stored.reduce((a, b) => a + b.length, 0);
    rows.push([
      `${perFrame}${perFrame === 256 ? " (one frame, before)" : ""}`,
      `${(plain / bytes).toFixed(1)}×`,
      perEvent(bytes, full.length * BUNDLE),
      (plain / frames / 1024).toFixed(1),
      oneFrame.toFixed(0),
      mb(plain, whole),
    ]);
  }
  process.stdout.write(
    `\n#### Entries per frame: ${corpus.name} (${full.length} full bundles, zstd -3, seek table included)\n\n`,
  );
  process.stdout.write(
    markdownTable(
      [
        "entries per frame",
        "ratio",
        "B/event",
        "KiB decompressed per entry read",
        "µs per entry read",
        "whole bundle MB/s",
      ],
      rows,
    ) + "\n",
  );
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "events", args.quick ? 20_000 : 200_000);
  const realLines = gunzipSync(readFileSync(benchFixture(REAL_FIXTURE)))
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => Buffer.from(l));
  log(`storage: generating ${n} events`);
  const corpora: Corpus[] = [
    { name: "real kube-apiserver v1.20.2 output", lines: realLines },
    { name: "generated corpus", lines: generatedEntries(7, n).buffers },
  ];
  const framesOnly = args.rest.includes("--frames-only");
  for (const corpus of corpora) {
    if (!framesOnly) await diskTable(corpus);
    if (!framesOnly) codecTable(corpus);
    frameTable(corpus);
  }
  printNote(
    "Disk is allocated blocks (`st_blocks`), so small files count as the filesystem stores them. " +
      "The write-ahead log is a fixed set of slots reused round after round (8 slots of 8 MiB at most, " +
      "whatever the log's size), so its share per event falls as the log grows; `other` is keys, checkpoint " +
      "and marks. kubetrail rows include writing " +
      "(append, integrate, compress, index) in `write s`. The PostgreSQL row is the hash-chained jsonb table of the other " +
      "benches with the query bench's forensic expression indexes, after VACUUM: its `bundles` column is " +
      "pg_table_size (heap and TOAST, where PostgreSQL compresses large values with pglz), `index` is pg_indexes_size " +
      "(primary key and forensic indexes), together pg_total_relation_size; the server's own WAL and catalogs are not " +
      "counted; `write s` is insert + index build + vacuum. Codec speeds are one core, in the bench's thread, the best of 5 passes.",
  );
}

runIfMain(import.meta.url, main);
