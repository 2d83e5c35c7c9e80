// Shared measuring kit for every benchmark: wall time, CPU seconds (this process, waited-for
// children and any extra processes such as a PostgreSQL server), peak RSS, throughput,
// latency percentiles, markdown tables with ratios to a baseline, flags and temporary dirs.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchArgs {
  /** Small sizes: the whole suite in under three minutes. */
  quick: boolean;
  /** The long memory-flatness runs (millions of entries). */
  soak: boolean;
  /** Free-form `--name=value` options. */
  options: Record<string, string>;
  rest: string[];
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const out: BenchArgs = { quick: false, soak: false, options: {}, rest: [] };
  for (const a of argv) {
    if (a === "--quick") out.quick = true;
    else if (a === "--soak") out.soak = true;
    else if (a.startsWith("--") && a.includes("=")) {
      const i = a.indexOf("=");
      out.options[a.slice(2, i)] = a.slice(i + 1);
    } else out.rest.push(a);
  }
  return out;
}

/** An integer option `--name=N` (accepts 1e6, 1_000_000), or the fallback. */
export function intOption(args: BenchArgs, name: string, fallback: number): number {
  const raw = args.options[name];
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n <= 0)
    throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export interface Measurement {
  name: string;
  /** Work items done (entries, events, queries); drives throughput. */
  items: number;
  bytes?: number;
  wallS: number;
  cpuS: number;
  peakRssMB: number;
  /** RSS when an in-process measurement began (its input data already loaded), for the growth column. */
  startRssMB?: number;
  /** Per-operation latencies in milliseconds, when the caller recorded them. */
  latenciesMs?: number[];
  note?: string;
}

export interface MeasureOptions {
  items: number;
  bytes?: number;
  note?: string;
  /** Processes outside this one whose CPU and RSS count too (e.g. a database server's pid). */
  extraPids?: () => number[];
  /**
   * False when this process only waits for the extra processes to do the work (a SQL query):
   * then peak RSS is theirs alone, not inflated by the input data this process holds.
   */
  countSelfRss?: boolean;
}

/** What a measured function may report back: latencies and, if it learned them, items/bytes. */
export interface Probe {
  latenciesMs: number[];
  /** Time one operation and record its latency. */
  time<T>(op: () => Promise<T>): Promise<T>;
  items?: number;
  bytes?: number;
  note?: string;
}

/**
 * Runs `fn` once and reports wall time, CPU seconds and peak RSS over this process, its
 * waited-for children and `extraPids` (RSS sampled every 20 ms, 100 ms with extra processes).
 */
export async function measure(
  name: string,
  opts: MeasureOptions,
  fn: (probe: Probe) => Promise<void>,
): Promise<Measurement> {
  const probe: Probe = {
    latenciesMs: [],
    async time(op) {
      const t = process.hrtime.bigint();
      try {
        return await op();
      } finally {
        this.latenciesMs.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    },
  };
  const extraCpu0 = sumCpu(opts.extraPids?.() ?? []);
  const countSelf = opts.countSelfRss ?? true;
  const startRssMB = process.memoryUsage.rss() / 2 ** 20;
  resetPeakRss();
  const sampler = new RssSampler(opts.extraPids, countSelf);
  const cpu0 = process.cpuUsage();
  const child0 = childrenCpuSeconds();
  const t0 = process.hrtime.bigint();
  try {
    await fn(probe);
  } finally {
    sampler.stop();
  }
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuS =
    (cpu.user + cpu.system) / 1e6 +
    (childrenCpuSeconds() - child0) +
    (sumCpu(opts.extraPids?.() ?? []) - extraCpu0);
  return {
    name,
    items: probe.items ?? opts.items,
    bytes: probe.bytes ?? opts.bytes,
    wallS,
    cpuS,
    peakRssMB: countSelf ? Math.max(sampler.peakMB(), selfPeakRssMB()) : sampler.peakMB(),
    ...(countSelf ? { startRssMB } : {}),
    ...(probe.latenciesMs.length > 0 ? { latenciesMs: probe.latenciesMs } : {}),
    ...((probe.note ?? opts.note) !== undefined ? { note: probe.note ?? opts.note } : {}),
  };
}

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
  wallS: number;
  cpuS: number;
  peakRssMB: number;
}

/**
 * Runs a command to completion and reports its own CPU (user+sys from the kernel's accounting
 * of waited children) and its peak RSS (VmHWM, sampled until exit), apart from this process.
 */
export async function runMeasured(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<ChildResult> {
  const child0 = childrenCpuSeconds();
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
  let peakKB = 0;
  const poll = setInterval(() => {
    if (child.pid !== undefined) peakKB = Math.max(peakKB, procStatusKB(child.pid, "VmHWM"));
  }, 10);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdin.end(opts.stdin ?? "");
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? -1));
  });
  clearInterval(poll);
  return {
    code,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    wallS: Number(process.hrtime.bigint() - t0) / 1e9,
    cpuS: childrenCpuSeconds() - child0,
    peakRssMB: peakKB / 1024,
  };
}

/** A Measurement from a finished child run. */
export function fromChild(
  name: string,
  r: ChildResult,
  items: number,
  bytes?: number,
  note?: string,
): Measurement {
  return {
    name,
    items,
    bytes,
    wallS: r.wallS,
    cpuS: r.cpuS,
    peakRssMB: r.peakRssMB,
    ...(note ? { note } : {}),
  };
}

// ---- statistics ----

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN for none. */
/**
 * The least-disturbed run (shortest wall time) with the median CPU seconds of all runs: on a
 * shared machine the neighbours only ever add time, so the minimum is the best estimate.
 */
export function bestOf(runs: Measurement[]): Measurement {
  const best = [...runs].sort((a, b) => a.wallS - b.wallS)[0]!;
  const cpu = runs.map((r) => r.cpuS).sort((a, b) => a - b);
  return { ...best, cpuS: cpu[Math.floor(cpu.length / 2)]! };
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

// ---- tables ----

export interface TableOptions {
  /** Name of the row the ratio column compares against. */
  baseline?: string;
  /** Items are called this in the throughput header (entries, events, queries). */
  unit?: string;
  /** For fixed-work rows (verify, queries) "time" compares wall time; default compares throughput. */
  compare?: "throughput" | "time";
}

/** Formats rows as a markdown table; the last column is each row's speed relative to the baseline row. */
export function formatTable(rows: readonly Measurement[], opts: TableOptions = {}): string {
  const unit = opts.unit ?? "items";
  const base = rows.find((r) => r.name === opts.baseline) ?? rows[0];
  const hasLat = rows.some((r) => r.latenciesMs && r.latenciesMs.length > 0);
  const hasBytes = rows.some((r) => r.bytes !== undefined);
  const hasStart = rows.some((r) => r.startRssMB !== undefined);
  const head = [
    "system",
    unit,
    "wall s",
    `${unit}/s`,
    ...(hasBytes ? ["MB/s"] : []),
    ...(hasLat ? ["p50 ms", "p99 ms"] : []),
    "CPU s",
    hasStart ? "peak RSS MB (growth)" : "peak RSS MB",
    base ? `vs ${base.name}` : "ratio",
  ];
  const body: string[][] = [];
  for (const r of rows) {
    const cells = [
      r.note ? `${r.name} (${r.note})` : r.name,
      fmtInt(r.items),
      fmt(r.wallS, 3),
      fmtInt(r.items / r.wallS),
      ...(hasBytes ? [r.bytes !== undefined ? fmt(r.bytes / 1e6 / r.wallS, 1) : ""] : []),
      ...(hasLat
        ? [fmt(percentile(r.latenciesMs ?? [], 50), 2), fmt(percentile(r.latenciesMs ?? [], 99), 2)]
        : []),
      fmt(r.cpuS, 2),
      r.startRssMB !== undefined
        ? `${fmt(r.peakRssMB, 0)} (+${fmt(Math.max(0, r.peakRssMB - r.startRssMB), 0)})`
        : fmt(r.peakRssMB, 0),
      base ? ratio(r, base, opts.compare ?? "throughput") : "",
    ];
    body.push(cells);
  }
  return markdownTable(head, body);
}

/** A plain markdown table: first column left-aligned, the rest right-aligned. */
export function markdownTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

/** Prints a titled markdown table to stdout (which run.js copies into bench/README.md). */
export function printTable(title: string, rows: readonly Measurement[], opts: TableOptions = {}): void {
  process.stdout.write(`\n#### ${title}\n\n${formatTable(rows, opts)}\n`);
}

/** A note under the current table (method, caveats), copied into the README too. */
export function printNote(text: string): void {
  process.stdout.write(`\n${text}\n`);
}

function ratio(r: Measurement, base: Measurement, compare: "throughput" | "time"): string {
  if (r === base) return "1.00×";
  const x = compare === "time" ? base.wallS / r.wallS : r.items / r.wallS / (base.items / base.wallS);
  return Number.isFinite(x) ? `${fmt(x, x >= 10 ? 1 : 2)}×` : "";
}

function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–";
}

// ---- temporary directories ----

const temps = new Set<string>();
let cleanupHooked = false;

/** A fresh directory under os.tmpdir() (or `parent`), removed at exit even after a failure. */
export function tempDir(prefix: string, parent = os.tmpdir()): string {
  const dir = mkdtempSync(path.join(parent, `kubetrail-bench-${prefix}-`));
  temps.add(dir);
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.on("exit", cleanupTemps);
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      process.once(sig, () => {
        cleanupTemps();
        process.exit(130);
      });
    }
  }
  return dir;
}

/** Removes a directory made by tempDir now (benches with big data free disk between phases). */
export function removeTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  temps.delete(dir);
}

function cleanupTemps(): void {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
  temps.clear();
}

// ---- running a bench module on its own ----

/** Calls `main(process.argv.slice(2))` when the module is the program's entry point. */
export function runIfMain(moduleUrl: string, main: (argv: string[]) => Promise<void>): void {
  const entry = process.argv[1];
  if (entry === undefined || path.resolve(entry) !== fileURLToPath(moduleUrl)) return;
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}

/** Progress and diagnostics go to stderr so stdout stays the markdown report. */
export function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ---- the machine ----

export interface Machine {
  cpu: string;
  cores: number;
  ramGB: number;
  disk: string;
  node: string;
  os: string;
}

export function machineInfo(dir = os.tmpdir()): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.cpus().length,
    ramGB: Math.round(os.totalmem() / 2 ** 30),
    disk: describeDisk(dir),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

function describeDisk(dir: string): string {
  try {
    const out = execFileSync("findmnt", ["-no", "SOURCE,FSTYPE", "--target", dir], {
      encoding: "utf8",
    }).trim();
    const [source = "?", fstype = "?"] = out.split(/\s+/);
    const dev = path.basename(source);
    let rotational = "";
    try {
      rotational =
        readFileSync(`/sys/block/${dev.replace(/\d+$/, "")}/queue/rotational`, "utf8").trim() === "1"
          ? ", rotational"
          : ", non-rotational";
    } catch {
      // virtual and overlay devices have no queue info
    }
    return `${source} (${fstype}${rotational}) for ${dir}`;
  } catch {
    return `unknown (${dir})`;
  }
}

// ---- /proc readers ----

const CLK_TCK = 100; // USER_HZ on Linux, fixed at 100 on every mainstream architecture

function procStat(pid: number | "self" | `${number}/task/${string}`): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces; fields after ")" are positional.
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU seconds of this process's children that have been waited for (cutime + cstime). */
function childrenCpuSeconds(): number {
  const f = procStat("self");
  if (!f) return 0;
  return (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** CPU seconds (user+sys) of a process, its waited-for children and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    const f = procStat(p);
    if (f) total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  }
  return total;
}

/**
 * CPU seconds (user+sys) of the live threads named `comm` in a process and its live descendants
 * (a thread names itself by writing /proc/thread-self/comm, as serve's receive workers do; the
 * main thread is never counted: threadsCpuSeconds calls it "main").
 */
export function threadCpuSeconds(pid: number, comm: string): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)])
    for (const t of threadsCpuSeconds(p).values()) if (t.name === comm) total += t.seconds;
  return total;
}

/**
 * CPU seconds (user+sys) so far of each live thread of process `pid`, by thread id, with its
 * name: "main" for the main thread, otherwise its comm (serve's workers name themselves, see
 * src/worker/thread-name.ts; V8's and libuv's helper threads are all "node").
 */
export function threadsCpuSeconds(pid: number): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name =
        Number(tid) === pid ? "main" : readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      out.set(Number(tid), { name, seconds: taskCpuSeconds(pid, Number(tid)) });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds per thread name between two threadsCpuSeconds() of one process, largest first.
 * A thread that ended between the two is missing; one started meanwhile counts from 0.
 */
export function cpuByThreadName(
  before: Map<number, { name: string; seconds: number }>,
  after: Map<number, { name: string; seconds: number }>,
): [string, number][] {
  const sums = new Map<string, number>();
  for (const [tid, t] of after)
    sums.set(t.name, (sums.get(t.name) ?? 0) + t.seconds - (before.get(tid)?.seconds ?? 0));
  return [...sums].sort((a, b) => b[1] - a[1]);
}

/** CPU seconds (user+sys) of one thread `tid` of process `pid` (the main thread: tid = pid); 0 once gone. */
export function taskCpuSeconds(pid: number, tid: number): number {
  const f = procStat(`${pid}/task/${tid}`);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : 0;
}

function sumCpu(pids: readonly number[]): number {
  return pids.reduce((s, p) => s + treeCpuSeconds(p), 0);
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = procStat(Number(name));
    if (f) parent.set(Number(name), Number(f[1]));
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const p = frontier.pop() as number;
    for (const [child, par] of parent) {
      if (par === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

function procStatusKB(pid: number | "self", field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Proportional set size: shared memory (a database's shared buffers) split between the
 * processes mapping it, so summing a server's processes does not count it once per backend.
 */
function pssKB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return procStatusKB(pid, "VmRSS");
  }
}

/** Resets the kernel's peak-RSS mark for this process so VmHWM covers only what follows. */
function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // not permitted everywhere; the sampler still sees the peak
  }
}

function selfPeakRssMB(): number {
  return procStatusKB("self", "VmHWM") / 1024;
}

/** Samples RSS of this process plus the PSS of extra process trees; the sum's maximum is the peak. */
class RssSampler {
  private peakKB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly extraPids?: () => number[],
    private readonly countSelf = true,
  ) {
    this.sample();
    // smaps_rollup walks the page tables of each extra process: sampled every 100 ms, a 1 GB
    // server cost the sampler 7% of a core, taken from that server on a two-core machine.
    this.timer = setInterval(() => this.sample(), extraPids ? 1000 : 20);
    this.timer.unref();
  }

  private sample(): void {
    let kb = this.countSelf ? procStatusKB("self", "VmRSS") : 0;
    for (const p of this.extraPids?.() ?? []) {
      for (const q of [p, ...descendants(p)]) kb += pssKB(q);
    }
    this.peakKB = Math.max(this.peakKB, kb);
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }

  peakMB(): number {
    return this.peakKB / 1024;
  }
}
