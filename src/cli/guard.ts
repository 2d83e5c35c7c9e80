// `kubetrail guard check|test|replay`: the admission policies offline — manifests in CI, policy
// unit tests, and a candidate policy replayed over the stored history.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { checkFailed, checkManifests, type CheckReport } from "../guard/check.js";
import { readDocumentFiles, readDocuments, type SourceDocument } from "../guard/documents.js";
import { DEFAULT_MANIFEST_CONTEXT } from "../guard/manifest-request.js";
import { loadPolicies, type PolicySet } from "../guard/policy/load.js";
import { findings, objectLabel, policyName, renderJunit, renderSarif } from "../guard/report/formats.js";
import { replayHistory, type ReplayFinding, type ReplayResult } from "../guard/replay.js";
import { GuardError } from "../guard/types.js";
import { findGuardTests, runGuardTest, type AssertionOutcome } from "../guard/unit-tests.js";
import { CliError } from "./errors.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";
import { openCliSession } from "./output/session.js";
import { columnWidths, formatTable, tableLines } from "./output/table.js";
import { JsonLineSpool } from "./output/spool.js";
import { writeOut } from "./output/write-out.js";
import { collect } from "./list-options.js";

const VERSION = "0.1.0";

/** Bad input (policies, manifests, tests) is a usage error naming file and line. */
function inputError(err: unknown): never {
  if (err instanceof GuardError) throw new CliError(err.message, USAGE_EXIT);
  throw err;
}

function policies(paths: string[], builtins: boolean): PolicySet {
  try {
    const set = loadPolicies(paths, { builtins });
    for (const w of set.warnings) process.stderr.write(`kubetrail: warning: ${w}\n`);
    return set;
  } catch (err) {
    return inputError(err);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function readManifests(inputs: string[]): Promise<SourceDocument[]> {
  const out: SourceDocument[] = [];
  try {
    for (const input of inputs) {
      if (input === "-") out.push(...readDocuments(await readStdin(), "<stdin>"));
      else out.push(...readDocumentFiles([input], "manifest"));
    }
  } catch (err) {
    inputError(err);
  }
  return out;
}

function checkTable(report: CheckReport): string {
  const rows = findings(report).map((f) => [
    `${f.doc.file}:${f.doc.line}`,
    objectLabel(f.doc),
    policyName(f.policy),
    f.effect,
    f.violation.check,
    f.violation.field ?? "-",
    f.violation.message,
  ]);
  const s = report.summary;
  const lines = [
    rows.length > 0
      ? formatTable(["LOCATION", "OBJECT", "POLICY", "EFFECT", "CHECK", "FIELD", "MESSAGE"], rows).trimEnd()
      : "No violations.",
    ...report.skipped.map((k) => `skipped ${k.file}:${k.line}: ${k.reason}`),
    `${s.documents} documents: ${s.checked} checked, ${s.skipped} skipped; ${s.results.deny} denied, ${s.results.warn} warned, ` +
      `${s.results.audit} with audit findings, ${s.results.allow} allowed; ${s.violations} violations, ${s.errors} policy errors`,
  ];
  return lines.join("\n") + "\n";
}

/** SARIF wants URIs: paths relative to the working directory, with forward slashes. */
function artifactUri(file: string): string {
  if (file === "<stdin>") return "stdin";
  const rel = path.relative(process.cwd(), path.resolve(file));
  return rel.split(path.sep).map(encodeURIComponent).join("/");
}

interface CheckFlags {
  filename: string[];
  policies?: string[];
  builtins: boolean;
  output: string;
  junit?: string;
  sarif?: string;
  namespace: string;
  user?: string;
  group?: string[];
}

async function check(o: CheckFlags): Promise<void> {
  const format = checkOutput(o.output, ["table", "json"]);
  const set = policies(o.policies ?? [], o.builtins);
  const docs = await readManifests(o.filename);
  const report = checkManifests(docs, set.policies, {
    nowMs: Date.now(),
    context: {
      defaultNamespace: o.namespace,
      user:
        o.user === undefined
          ? DEFAULT_MANIFEST_CONTEXT.user
          : { username: o.user, groups: o.group ?? ["system:authenticated"] },
    },
  });
  if (o.junit !== undefined) await writeFile(o.junit, renderJunit(report));
  if (o.sarif !== undefined) await writeFile(o.sarif, renderSarif(report, VERSION, artifactUri));
  process.stdout.write(format === "json" ? JSON.stringify(report, null, 2) + "\n" : checkTable(report));
  if (checkFailed(report)) process.exitCode = 1;
}

function testTable(outcomes: AssertionOutcome[]): string {
  const rows = outcomes.map((a) => [
    a.test,
    a.policy,
    a.resource,
    a.expected,
    a.actual,
    a.ok ? "ok" : "FAIL",
    a.detail ?? "",
  ]);
  const failed = outcomes.filter((a) => !a.ok).length;
  return (
    formatTable(["TEST", "POLICY", "RESOURCE", "EXPECTED", "ACTUAL", "RESULT", "DETAIL"], rows) +
    `${outcomes.length} assertions: ${outcomes.length - failed} passed, ${failed} failed\n`
  );
}

async function test(paths: string[], o: { output: string }): Promise<void> {
  const format = checkOutput(o.output, ["table", "json"]);
  let outcomes: AssertionOutcome[];
  try {
    const tests = findGuardTests(paths.length > 0 ? paths : ["."]);
    if (tests.length === 0)
      throw new CliError(`no GuardTest documents under ${paths.join(", ") || "."}`, USAGE_EXIT);
    const now = Date.now();
    outcomes = tests.flatMap((t) => runGuardTest(t, now));
  } catch (err) {
    return inputError(err);
  }
  process.stdout.write(
    format === "json" ? JSON.stringify({ items: outcomes }, null, 2) + "\n" : testTable(outcomes),
  );
  if (outcomes.some((a) => !a.ok)) process.exitCode = 1;
}

function tallyLines(
  title: string,
  map: Record<string, { deny: number; warn: number; audit: number }>,
): string {
  const total = (t: { deny: number; warn: number; audit: number }) => t.deny + t.warn + t.audit;
  const rows = Object.entries(map)
    .sort(([a, x], [b, y]) => total(y) - total(x) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, t]) => [k, String(t.deny), String(t.warn), String(t.audit)]);
  return rows.length === 0 ? "" : "\n" + formatTable([title, "DENY", "WARN", "AUDIT"], rows);
}

const REPLAY_HEADERS = ["INDEX", "TIME", "USER", "OP", "OBJECT", "POLICY", "EFFECT", "WHY"];

/** A finding's table rows: one per policy that would have denied, warned or recorded it. */
function findingRows(f: ReplayFinding): string[][] {
  return f.policies.map((p) => [
    String(f.index),
    f.time,
    f.user,
    f.operation,
    `${f.object.resource}${f.object.subresource ? `/${f.object.subresource}` : ""} ${[f.object.namespace, f.object.name].filter(Boolean).join("/")}`,
    policyName(p),
    p.effects.join(","),
    p.status === "error"
      ? `policy error: ${p.error ?? ""}`
      : p.violations.map((v) => `${v.message}${v.field ? ` (${v.field})` : ""}`).join("; "),
  ]);
}

function replaySummaryText(r: ReplayResult): string {
  const s = r.summary;
  const skipped = Object.entries(s.skipped)
    .map(([why, n]) => `  ${n} not evaluated: ${why}\n`)
    .join("");
  return (
    `\n${s.candidates} creates, updates and patches since ${r.since ?? "the start"} (log checkpoint size ${s.checkpointSize}); ${s.evaluated} evaluated, ${s.findings} would have been denied, warned or recorded (audit mode); every listed entry's inclusion proof verified.\n` +
    (s.belowRequestLevel > 0
      ? `  ${s.belowRequestLevel} refused: logged below Request level, so the log has no request body to evaluate (raise their audit level to Request).\n`
      : "") +
    skipped +
    tallyLines("POLICY", s.byPolicy) +
    tallyLines("NAMESPACE", s.byNamespace) +
    tallyLines("USER", s.byUser)
  );
}

/** The findings as a table, columns sized on a first pass over the spool, then the summary. */
async function writeReplayTable(r: ReplayResult, spool: JsonLineSpool<ReplayFinding>): Promise<void> {
  if (spool.count === 0) {
    await writeOut(
      process.stdout,
      "Nothing would have been denied, warned or recorded.\n" + replaySummaryText(r),
    );
    return;
  }
  let widths: number[] = [];
  for await (const f of spool.read()) widths = columnWidths(REPLAY_HEADERS, findingRows(f), widths);
  await writeOut(process.stdout, tableLines(REPLAY_HEADERS, [], widths)[0] + "\n");
  for await (const f of spool.read())
    await writeOut(
      process.stdout,
      tableLines(REPLAY_HEADERS, findingRows(f), widths).slice(1).join("\n") + "\n",
    );
  await writeOut(process.stdout, replaySummaryText(r));
}

/** The report as one JSON document (findings last, written from the spool one by one). */
async function writeReplayJson(r: ReplayResult, spool: JsonLineSpool<ReplayFinding>): Promise<void> {
  const head = JSON.stringify(r, null, 2);
  await writeOut(process.stdout, `${head.slice(0, head.lastIndexOf("\n}"))},\n  "findings": [`);
  let first = true;
  for await (const f of spool.read()) {
    const text = JSON.stringify(f, null, 2).replace(/\n/g, "\n    ");
    await writeOut(process.stdout, `${first ? "" : ","}\n    ${text}`);
    first = false;
  }
  await writeOut(process.stdout, `${first ? "" : "\n  "}]\n}\n`);
}

async function replay(o: {
  data: string;
  since?: string;
  policy: string[];
  builtins: boolean;
  output: string;
}): Promise<void> {
  const format = checkOutput(o.output, ["table", "json"]);
  const set = policies(o.policy, o.builtins);
  // Findings wait on disk, not in memory, for the summary that comes with them.
  const spool = new JsonLineSpool<ReplayFinding>();
  try {
    const session = await openCliSession(o.data);
    let result: ReplayResult;
    try {
      result = await replayHistory(session.log, session.index, set.policies, {
        nowMs: Date.now(),
        ...(o.since === undefined ? {} : { since: o.since }),
        onFinding: (f) => spool.add(f),
      }).catch((err: unknown) => {
        if (err instanceof Error && "code" in err && err.code === "bad-filter")
          throw new CliError(`--since: ${err.message.replace(/^since: /, "")}`, USAGE_EXIT);
        throw err;
      });
    } finally {
      session.close();
    }
    await (format === "json" ? writeReplayJson(result, spool) : writeReplayTable(result, spool));
  } finally {
    spool.close();
  }
}

export function registerGuard(program: Command): void {
  const guard = program
    .command("guard")
    .description(
      "admission policies offline: check manifests in CI, unit-test policies, replay over history",
    );

  guard
    .command("check")
    .description(
      "evaluate manifests (YAML, JSON, Lists, Helm output on stdin) against the admission policies; exit 1 when an enforce policy fails",
    )
    .requiredOption(
      "-f, --filename <path>",
      "manifest file, directory (recursive) or - for stdin (repeatable)",
      collect,
    )
    .option(
      "-p, --policies <path>",
      "GuardPolicy / ValidatingAdmissionPolicy files or directories (repeatable)",
      collect,
    )
    .option(
      "--no-builtins",
      "leave out the built-in policies (otherwise on, in audit mode unless configured)",
    )
    .option("-o, --output <format>", "table or json", "table")
    .option("--junit <file>", "also write a JUnit XML report")
    .option("--sarif <file>", "also write a SARIF 2.1.0 report (file and line of each failing document)")
    .option("-n, --namespace <ns>", "namespace of objects that name none", "default")
    .option("--user <name>", "the user the requests are checked as (for policies matching users)")
    .option("--group <group>", "a group of --user (repeatable)", collect)
    .action((o: CheckFlags) => check(o));

  guard
    .command("test")
    .argument("[paths...]", "files or directories holding GuardTest documents (default: .)")
    .description(
      "run policy unit tests (GuardTest: policies, resources, expected results), like kyverno test",
    )
    .option("-o, --output <format>", "table or json", "table")
    .action((paths: string[], o: { output: string }) => test(paths, o));

  guard
    .command("replay")
    .description(
      "evaluate candidate policies over the stored creates and updates: what they would have denied, warned or recorded (audit mode), with log index and checked inclusion proof",
    )
    .requiredOption("--data <dir>", "data directory")
    .requiredOption("--policy <path>", "candidate policy file or directory (repeatable)", collect)
    .option("--since <duration>", "only the last 24h, 30d, …")
    .option("--builtins", "also replay the built-in policies")
    .option("-o, --output <format>", "table or json", "table")
    .action((o: { data: string; since?: string; policy: string[]; builtins?: boolean; output: string }) =>
      replay({ ...o, builtins: o.builtins === true }),
    );
}
