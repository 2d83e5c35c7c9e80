// Reading a few entries spread over many bundles, as `history` and a query's first page do, on
// the same generated log stored in different ways side by side (bundles as one zstd frame each,
// as stored before, and in seekable frames), the directories taken in turn each round so load
// from elsewhere falls on all of them alike:
// - in the process, as serve answers: the question answered through the index and the entries
//   read back, by a fresh reader each run (nothing cached) and by one reader again and again
//   (its frame cache warm), with the bytes decompressed per answer (a figure load cannot change);
// - end to end: a fresh CLI process per run, wall time and its CPU time (user + system).
//
//   node build/bench/entry-reads.js --data-dirs=DIR,DIR… [--runs=N]
//
// Each DIR is a copy of one bench log (bench/lib/event-log.ts, e.g. reach's --data-dir), one
// converted with `kubetrail compact` (which rewrites single-frame bundles into seekable frames).
// The directories are only read. Every directory must give the same answers.
import { readFileSync } from "node:fs";
import path from "node:path";
import { objectHistory } from "../src/index/history.js";
import { openIndexForLog } from "../src/index/indexer.js";
import { parseFilter } from "../src/index/query.js";
import { resolveEntries } from "../src/index/resolve.js";
import { FsLogFiles } from "../src/store/fs/files.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { openLogReader } from "../src/store/log-reader.js";
import type { LogReader } from "../src/store/types.js";
import { newVerifier } from "../src/tlog/index.js";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  percentile,
  printNote,
  runIfMain,
  runMeasured,
} from "./harness.js";
import type { BenchLog } from "./lib/event-log.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";

interface Question {
  name: string;
  args: string[];
  /** The first page answered in the process, as serve does: how many entries it read back. */
  answer(index: ReturnType<typeof openIndexForLog>["index"], log: LogReader): Promise<number>;
}

const PAGE = 100;

function questions(bench: BenchLog): Question[] {
  const to = new Date(bench.endUs / 1000);
  const hoursBefore = (h: number): string => new Date(to.getTime() - h * 3600_000).toISOString();
  const { namespace, name } = bench.typicalDeployment;
  return [
    {
      name: `history deployment/${name} -n ${namespace}`,
      args: ["history", `deployment/${name}`, "-n", namespace],
      answer: async (index, log) =>
        (
          await objectHistory(
            index,
            log,
            { resource: { resource: "deployments", apiGroup: "apps" }, namespace, name, limit: 1000 },
            bench.endUs,
          )
        ).reduce((n, o) => n + o.items.length, 0),
    },
    ...[
      { what: "--verb delete, last 24 h", raw: { verb: ["delete"] }, hours: 24 },
      { what: "--code 403, last hour", raw: { code: ["403"] }, hours: 1 },
    ].map((q): Question => ({
      name: `query ${q.what}, first page (${PAGE})`,
      args: [
        "query",
        ...Object.entries(q.raw).flatMap(([k, v]) => [`--${k}`, v[0]!]),
        "--from",
        hoursBefore(q.hours),
        "--to",
        to.toISOString(),
        "-o",
        "jsonl",
      ],
      answer: async (index, log) => {
        const filter = parseFilter({
          ...q.raw,
          from: [hoursBefore(q.hours)],
          to: [to.toISOString()],
          limit: [String(PAGE)],
        });
        filter.logSize = log.size();
        return (await resolveEntries(log, index.search(filter, bench.endUs).rows)).length;
      },
    })),
  ];
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const dirs = (args.options["data-dirs"] ?? "").split(",").filter((d) => d.length > 0);
  if (dirs.length === 0) throw new Error("--data-dirs=DIR,DIR… is required");
  const runs = intOption(args, "runs", 15);
  const bench = JSON.parse(readFileSync(path.join(dirs[0]!, "bench-log.json"), "utf8")) as BenchLog;
  const cli = kubetrailCli();
  await inProcess(dirs, questions(bench), runs);
  const rows: string[][] = [];
  for (const q of questions(bench)) {
    log(`entry-reads: ${q.name}`);
    const wall = dirs.map(() => [] as number[]);
    const cpu = dirs.map(() => [] as number[]);
    const answers = dirs.map(() => "");
    // One warm-up round (page cache, compiled code), then `runs` measured ones.
    for (let round = 0; round <= runs; round++) {
      for (const [i, dir] of dirs.entries()) {
        const r = await runMeasured(process.execPath, [cli, ...q.args, "--data", dir]);
        if (r.code !== 0) throw new Error(`${q.args.join(" ")} --data ${dir}: exit ${r.code}: ${r.stderr}`);
        answers[i] = r.stdout;
        if (round > 0) {
          wall[i]!.push(r.wallS * 1000);
          cpu[i]!.push(r.cpuS * 1000);
        }
      }
    }
    const lines = answers[0]!.split("\n").filter((l) => l.length > 0).length;
    for (const [i, dir] of dirs.entries()) {
      if (answers[i] !== answers[0]) throw new Error(`${dir} answers ${q.name} otherwise than ${dirs[0]}`);
      rows.push([
        q.name,
        path.basename(dir),
        String(lines),
        percentile(wall[i]!, 50).toFixed(0),
        percentile(wall[i]!, 95).toFixed(0),
        percentile(cpu[i]!, 50).toFixed(0),
      ]);
    }
  }
  process.stdout.write(
    `\n#### Reading entries spread over bundles: ${bench.count.toLocaleString("en-US")}-event log, ${runs} runs each\n\n`,
  );
  process.stdout.write(
    markdownTable(
      ["question", "data directory", "lines out", "wall p50 ms", "wall p95 ms", "CPU p50 ms"],
      rows,
    ) + "\n",
  );
  printNote(
    "A fresh `kubetrail` process per run with --data (Node start-up included), directories in turn each round. " +
      "CPU is the child's user + system time.",
  );
}

/** The questions answered in this process, per directory: fresh reader each run, then one warm reader. */
async function inProcess(dirs: string[], qs: Question[], runs: number): Promise<void> {
  const opened = await Promise.all(
    dirs.map(async (dir) => {
      const verifier = newVerifier(await fsStorage(dir).verifierKey());
      const reader = async (): Promise<{ files: FsLogFiles; log: LogReader }> => {
        const files = new FsLogFiles(dir);
        return { files, log: await openLogReader(files, verifier) };
      };
      const first = await reader();
      return { dir, reader, warm: first, index: openIndexForLog(dir, first.log).index };
    }),
  );
  const rows: string[][] = [];
  for (const q of qs) {
    log(`entry-reads: in process: ${q.name}`);
    const cold = dirs.map(() => [] as number[]);
    const warm = dirs.map(() => [] as number[]);
    const bytes = dirs.map(() => 0);
    const answers = dirs.map(() => 0);
    for (let round = 0; round <= runs; round++) {
      for (const [i, o] of opened.entries()) {
        const fresh = await o.reader();
        let t = performance.now();
        answers[i] = await q.answer(o.index, fresh.log);
        if (round > 0) cold[i]!.push(performance.now() - t);
        bytes[i] = fresh.files.decompressed.bytes;
        t = performance.now();
        await q.answer(o.index, o.warm.log);
        if (round > 0) warm[i]!.push(performance.now() - t);
      }
    }
    for (const [i, o] of opened.entries()) {
      if (answers[i] !== answers[0]) throw new Error(`${o.dir} answers ${q.name} otherwise than ${dirs[0]}`);
      rows.push([
        q.name,
        path.basename(o.dir),
        String(answers[i]),
        (bytes[i]! / 1e6).toFixed(1),
        percentile(cold[i]!, 50).toFixed(1),
        percentile(warm[i]!, 50).toFixed(1),
      ]);
    }
  }
  for (const o of opened) o.index.close();
  process.stdout.write(`\n#### Answered in the process (as serve does), ${runs} runs each\n\n`);
  process.stdout.write(
    markdownTable(
      [
        "question",
        "data directory",
        "entries read",
        "MB decompressed",
        "p50 ms, fresh reader",
        "p50 ms, warm reader",
      ],
      rows,
    ) + "\n",
  );
}

runIfMain(import.meta.url, main);
