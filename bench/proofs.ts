// Inclusion and consistency proofs at 1 thousand, 1 million and 10 million entries: size in
// hashes and bytes (must grow as log2 n), time to build one from the tiles and to check it.
// The peer is a hash chain (the PostgreSQL baseline): proving one row there means handing
// over and re-hashing every row after it, so its "proof" grows linearly.
import path from "node:path";
import { openFsLog } from "../src/store/fs/storage.js";
import {
  type Hash,
  type HashReader,
  hashLeaf,
  proveConsistency,
  proveInclusion,
  tileHashReader,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../src/tlog/index.js";
import { makeRng } from "./gen/rng.js";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  percentile,
  printNote,
  runIfMain,
  tempDir,
} from "./harness.js";
import { fillFsLog } from "./lib/fill.js";
import { PeriodicTree } from "./lib/synthetic-tree.js";
import { generatedEntries } from "./lib/workload.js";

interface Subject {
  size: number;
  source: string;
  reader: HashReader;
  root: Hash;
  leafHash(i: number): Promise<Hash>;
  close(): Promise<void>;
}

interface ProofStats {
  size: number;
  source: string;
  incHashes: number[];
  incBuildUs: number[];
  incCheckUs: number[];
  conHashes: number[];
  conBuildUs: number[];
  conCheckUs: number[];
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const samples = intOption(args, "samples", args.quick ? 200 : 1000);
  const realMillion = !args.quick || args.options["real-million"] === "true";
  const stats: ProofStats[] = [];
  for (const [size, real] of [
    [1_000, true],
    [1_000_000, realMillion],
    [10_000_000, false],
  ] as const) {
    log(`proofs: ${size} entries (${real ? "real fs log" : "synthetic tiles"})`);
    const subject = real ? await realLog(size) : await syntheticLog(size);
    try {
      stats.push(await measureProofs(subject, samples));
    } finally {
      await subject.close();
    }
  }
  const us = (xs: number[], p: number): string => percentile(xs, p).toFixed(0);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = stats.map((s) => [
    s.size.toLocaleString("en-US"),
    s.source,
    Math.log2(s.size).toFixed(1),
    `${mean(s.incHashes).toFixed(1)} / ${Math.max(...s.incHashes)}`,
    `${Math.max(...s.incHashes) * 32}`,
    `${us(s.incBuildUs, 50)} / ${us(s.incBuildUs, 99)}`,
    `${us(s.incCheckUs, 50)} / ${us(s.incCheckUs, 99)}`,
    `${mean(s.conHashes).toFixed(1)} / ${Math.max(...s.conHashes)}`,
    `${Math.max(...s.conHashes) * 32}`,
    `${us(s.conBuildUs, 50)} / ${us(s.conBuildUs, 99)}`,
    `${us(s.conCheckUs, 50)} / ${us(s.conCheckUs, 99)}`,
    `${(s.size / 2).toLocaleString("en-US")} rows`,
  ]);
  process.stdout.write(`\n#### Proofs (${samples} random samples per size)\n\n`);
  process.stdout.write(
    markdownTable(
      [
        "entries",
        "tiles from",
        "log2 n",
        "inclusion hashes mean / max",
        "max bytes",
        "build µs p50 / p99",
        "check µs p50 / p99",
        "consistency hashes mean / max",
        "max bytes",
        "build µs p50 / p99",
        "check µs p50 / p99",
        "hash-chain proof (mean)",
      ],
      rows,
    ) + "\n",
  );
  printNote(
    "Build = the server reading the needed hashes from its hash tiles and assembling the proof; " +
      "check = the client's RFC 9162 verification against the signed root. " +
      "Synthetic tiles: a real RFC 6962 tree whose leaf i is entry i mod 256, so every stored hash is a lookup and " +
      "10 million entries need no disk; proof sizes depend only on index and size, so they equal a real log's. " +
      "A hash chain (the PostgreSQL baseline) proves one row only by re-hashing every row after it: n/2 rows on average.",
  );
}

async function measureProofs(s: Subject, samples: number): Promise<ProofStats> {
  const rng = makeRng(s.size);
  const out: ProofStats = {
    size: s.size,
    source: s.source,
    incHashes: [],
    incBuildUs: [],
    incCheckUs: [],
    conHashes: [],
    conBuildUs: [],
    conCheckUs: [],
  };
  for (let k = 0; k < samples; k++) {
    const index = rng.int(s.size);
    const leaf = await s.leafHash(index);
    let t = process.hrtime.bigint();
    const inc = await proveInclusion(s.size, index, s.reader);
    out.incBuildUs.push(sinceUs(t));
    t = process.hrtime.bigint();
    const incOk = verifyInclusion(leaf, index, s.size, inc, s.root);
    out.incCheckUs.push(sinceUs(t));
    if (!incOk) throw new Error(`inclusion proof for ${index} in ${s.size} does not verify`);
    out.incHashes.push(inc.length);

    const old = 1 + rng.int(s.size - 1);
    const oldRoot = await treeHash(old, s.reader);
    t = process.hrtime.bigint();
    const con = await proveConsistency(old, s.size, s.reader);
    out.conBuildUs.push(sinceUs(t));
    t = process.hrtime.bigint();
    const conOk = verifyConsistency(old, s.size, con, oldRoot, s.root);
    out.conCheckUs.push(sinceUs(t));
    if (!conOk) throw new Error(`consistency proof ${old} → ${s.size} does not verify`);
    out.conHashes.push(con.length);
  }
  return out;
}

function sinceUs(t: bigint): number {
  return Number(process.hrtime.bigint() - t) / 1e3;
}

/** A real fs log: generated events for 1 thousand; small entries for a million (proofs do not see entry size). */
async function realLog(size: number): Promise<Subject> {
  const dir = tempDir("proofs");
  const entries =
    size <= 100_000
      ? generatedEntries(3, size).buffers
      : Array.from({ length: size }, (_, i) => Buffer.from(`{"kind":"Event","auditID":"${i}"}`));
  const dataDir = await fillFsLog(dir, entries);
  const log = await openFsLog(path.join(dataDir));
  const cp = log.latestCheckpoint();
  return {
    size,
    source: "fs log on disk",
    reader: log.hashReader(),
    root: cp.rootHash,
    async leafHash(i) {
      for await (const e of log.readEntries(i, i + 1)) return hashLeaf(e.data!);
      throw new Error(`entry ${i} missing`);
    },
    close: () => log.close(),
  };
}

async function syntheticLog(size: number): Promise<Subject> {
  const tree = new PeriodicTree();
  const root = await treeHash(size, tree.hashReader());
  return {
    size,
    source: "synthetic tiles (memory)",
    // Trusted tiles, as the fs log reads its own: build times compare like with like.
    reader: tileHashReader(size, tree.tileReader()),
    root,
    leafHash: async (i) => hashLeaf(Buffer.from(tree.entry(i))),
    close: async () => {},
  };
}

runIfMain(import.meta.url, main);
