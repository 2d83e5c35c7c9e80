// `npm run bench`: runs every benchmark that exists, each in its own process (so one bench's
// memory does not count against the next), and rewrites the figures section of bench/README.md.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { log, machineInfo, parseBenchArgs, runIfMain } from "./harness.js";
import { repoRoot } from "./lib/paths.js";

/** In report order. */
const BENCHES = [
  "append",
  "verify",
  "proofs",
  "webhook",
  "secrets",
  "dedupe-store",
  "query",
  "policy",
  "detect",
  "reach",
  "guard",
  "ui",
  "witness",
  "cosign",
  "mirror",
];
/** Flags without a value that some bench reads; any other is a typo (e.g. --quik). */
const BARE_FLAGS = ["--no-pg"];

const USAGE = `usage: npm run bench -- [--quick | --soak] [BENCH…] [--flag | --name=value…]
  BENCH: ${BENCHES.join(", ")} (default: all)
  --quick       small sizes, under three minutes; figures go to the README's quick block
  --soak        the long memory-flatness run (5M entries)
  other flags   passed to every bench (e.g. --entries=50000, --no-pg)`;

/** Each kind of run keeps its own block in the README, so a quick run does not erase full-size figures. */
type RunKind = "quick" | "full" | "soak";
const startMarker = (kind: RunKind): string =>
  `<!-- ${kind}:start (written by bench/run.ts; edits here are overwritten) -->`;
const endMarker = (kind: RunKind): string => `<!-- ${kind}:end -->`;

/** Where the compiled benches sit (build/bench/). */
const here = path.dirname(fileURLToPath(import.meta.url));

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  if (args.rest.includes("--help") || args.rest.includes("-h")) {
    console.log(USAGE);
    return;
  }
  const requested = args.rest.filter((a) => !a.startsWith("-"));
  // A typo must not run nothing and then overwrite the README's figures with an empty block.
  const unknown = requested.filter((name) => !BENCHES.includes(name));
  if (unknown.length > 0) throw new Error(`unknown bench: ${unknown.join(", ")}\n${USAGE}`);
  // A mistyped flag would otherwise run the full-size benches and overwrite their block.
  const badFlags = args.rest.filter((a) => a.startsWith("-") && !BARE_FLAGS.includes(a));
  if (badFlags.length > 0) throw new Error(`unknown flag: ${badFlags.join(", ")}\n${USAGE}`);
  const flags = [
    ...(args.quick ? ["--quick"] : []),
    ...Object.entries(args.options).map(([k, v]) => `--${k}=${v}`),
    ...args.rest.filter((a) => a.startsWith("-")),
  ];
  const only = requested.length > 0 ? new Set(requested) : undefined;
  const names: string[] = args.soak ? ["soak"] : BENCHES.filter((b) => !only || only.has(b));
  // Checked before anything runs: a missing bench found half-way would throw the run away.
  const missing = names.map((name) => path.join(here, `${name}.js`)).filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`${missing.join(", ")} missing: run npm run bench:build`);
  const sections: string[] = [];
  const t0 = Date.now();
  for (const name of names) {
    const file = path.join(here, `${name}.js`);
    log(`${name}: running`);
    const started = Date.now();
    const { code, stdout } = await runBench(file, flags);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    log(`${name}: exit ${code} after ${secs} s`);
    sections.push(
      `**bench ${name}**\n${code === 0 ? "" : `\n**failed with exit code ${code}; partial output:**\n`}${stdout.trimEnd()}\n\n_${secs} s_`,
    );
  }
  const m = machineInfo();
  // bench/fresh-fs.sh runs this with the data on a fresh filesystem: the header says so.
  const via = process.env.KUBETRAIL_BENCH_VIA;
  const command = via
    ? `${via}${argv.length > 0 ? ` ${argv.join(" ")}` : ""}`
    : `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
  const header = [
    `Run at ${new Date().toISOString()} with \`${command}\` (${((Date.now() - t0) / 1000).toFixed(0)} s).`,
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGB} GB RAM, disk ${m.disk}, Node ${m.node}, ${m.os}.`,
  ].join("\n");
  const readme = path.join(repoRoot, "bench", "README.md");
  writeFigures(
    readme,
    `${header}\n\n${sections.join("\n\n")}`,
    args.soak ? "soak" : args.quick ? "quick" : "full",
  );
  log(`figures written to ${path.relative(process.cwd(), readme)}`);
}

/** Replaces the block of this kind of run and leaves the rest of the README alone. */
function writeFigures(readme: string, body: string, kind: RunKind): void {
  const start = startMarker(kind);
  const end = endMarker(kind);
  const text = existsSync(readme) ? readFileSync(readme, "utf8") : "# Benchmarks\n";
  const block = `${start}\n${body}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + block + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(readme, next);
}

function runBench(file: string, flags: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...flags], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      out += s;
      process.stdout.write(s);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: out }));
  });
}

runIfMain(import.meta.url, main);
