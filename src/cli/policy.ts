// `kubetrail policy lint|test`: check an audit Policy the way the kube-apiserver would, and
// show what it would do to recorded events before it ships.
import { createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import {
  ComparisonTally,
  PolicyImpact,
  type EventDecision,
  type EventImpact,
} from "../audit/policy/impact.js";
import { formatProblem, PolicyError } from "../audit/policy/errors.js";
import { checkPolicyText, loadPolicyFile, readPolicySource } from "../audit/policy/load.js";
import type { Policy } from "../audit/policy/types.js";
import {
  formatVersion,
  KubernetesVersionError,
  NEWEST_KUBERNETES,
  parseKubernetesVersion,
  checkPolicyVersion,
  type KubernetesVersion,
} from "../audit/policy/versions.js";
import type { AuditEvent } from "../audit/types.js";
import { IngestError } from "../ingest/errors.js";
import { parseEventLine, parseEventList } from "../ingest/normalize.js";
import { CliError } from "./errors.js";
import { formatTable } from "./output/table.js";
import { checkOutput } from "./output/format.js";
import { formatComparison, formatSummary } from "./policy-summary.js";

export function registerPolicy(program: Command): void {
  const policy = program
    .command("policy")
    .description("check audit policies and preview their effect on recorded events");

  policy
    .command("lint")
    .argument("<policy>", "audit.k8s.io/v1 (or v1beta1) Policy file, YAML or JSON")
    .description(
      "validate a policy as the kube-apiserver does; exit 1 and list every problem if it is invalid",
    )
    .option(
      "--kubernetes-version <version>",
      `the apiserver release the policy is for (e.g. 1.20): what it refuses is an error, what it ignores a warning (default: the newest known, ${formatVersion(NEWEST_KUBERNETES)})`,
    )
    .option("-o, --output <format>", "text or json", "text")
    .action((file: string, o: { output: string; kubernetesVersion?: string }) =>
      lint(file, o.output, o.kubernetesVersion),
    );

  policy
    .command("test")
    .description(
      "show the level, omitted stages and rule a policy gives each recorded event, with a volume summary",
    )
    .requiredOption("--policy <file>", "the policy to evaluate")
    .requiredOption("--events <files...>", "audit events: log-backend JSON lines or EventList documents")
    .option("--compare <file>", "a second policy to compare against")
    .option(
      "-o, --output <format>",
      "table, json or jsonl (jsonl: exactly one line per input event)",
      "table",
    )
    .option("--summary", "table output: print only the summary, not one row per event")
    .action((o: { policy: string; events: string[]; compare?: string; output: string; summary?: boolean }) =>
      test(o),
    );
}

/** Parses --kubernetes-version, as a usage error (exit 2) when it is not a known release. */
export function kubernetesVersionOption(text: string): KubernetesVersion {
  try {
    return parseKubernetesVersion(text);
  } catch (err) {
    if (err instanceof KubernetesVersionError) throw new CliError(`--kubernetes-version: ${err.message}`, 2);
    throw err;
  }
}

function lint(file: string, output: string, version: string | undefined): void {
  checkOutput(output, ["text", "json"]);
  const target = version === undefined ? NEWEST_KUBERNETES : kubernetesVersionOption(version);
  const checked = checkPolicyText(readPolicySource(file));
  // Version problems only mean something for a policy the newest release accepts.
  if (checked.errors.length === 0) {
    const v = checkPolicyVersion(checked.policy, target, version !== undefined);
    checked.errors.push(...v.errors);
    checked.warnings.push(...v.warnings);
  }
  if (output === "json") {
    process.stdout.write(
      JSON.stringify(
        {
          file,
          kubernetesVersion: formatVersion(target),
          valid: checked.errors.length === 0,
          errors: checked.errors,
          warnings: checked.warnings,
        },
        null,
        2,
      ) + "\n",
    );
  } else {
    for (const e of checked.errors) process.stdout.write(`${file}: error: ${formatProblem(e)}\n`);
    for (const w of checked.warnings) process.stdout.write(`${file}: warning: ${formatProblem(w)}\n`);
    if (checked.errors.length === 0)
      process.stdout.write(
        `${file}: valid (${checked.policy.rules.length} rules) for Kubernetes ${formatVersion(target)}\n`,
      );
  }
  if (checked.errors.length > 0) process.exitCode = 1;
}

function loadPolicy(file: string): Policy {
  try {
    return loadPolicyFile(file);
  } catch (err) {
    if (err instanceof PolicyError) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

/**
 * Streams the events of log-backend files (one Event per line), of files with one EventList
 * per line (captured webhook batches) and of single, possibly indented, EventList documents.
 * Errors name the file and line.
 */
export async function* readEventFiles(files: string[]): AsyncGenerator<AuditEvent> {
  for (const file of files) {
    try {
      yield* readEventFile(file);
    } catch (err) {
      if (err instanceof IngestError) throw new CliError(`${file}: ${err.message}`, 1, { cause: err });
      if ((err as NodeJS.ErrnoException).syscall !== undefined) {
        throw new CliError(
          `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          1,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }
}

async function* readEventFile(file: string): AsyncGenerator<AuditEvent> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      try {
        yield parseEventLine(line, `line ${n}`);
      } catch (err) {
        if (!(err instanceof IngestError)) throw err;
        if (err.code === "wrong_kind" && line.includes("EventList")) yield* parseEventList(line);
        else if (err.code === "not_json" && n === 1) {
          yield* wholeDocument(file, err);
          return;
        } else throw err;
      }
    }
  } finally {
    lines.close();
  }
}

/** A file whose first line is not JSON on its own: an indented EventList document, or garbage. */
function wholeDocument(file: string, firstLineError: IngestError): AuditEvent[] {
  const text = readFileSync(file, "utf8");
  try {
    JSON.parse(text);
  } catch {
    throw firstLineError;
  }
  return parseEventList(text);
}

interface TestOptions {
  policy: string;
  events: string[];
  compare?: string;
  output: string;
  summary?: boolean;
}

async function test(o: TestOptions): Promise<void> {
  checkOutput(o.output, ["table", "json", "jsonl"]);
  const impact = new PolicyImpact(loadPolicy(o.policy));
  const other = o.compare === undefined ? undefined : new PolicyImpact(loadPolicy(o.compare));
  const comparison = other ? new ComparisonTally() : undefined;
  const out = new ChunkedWriter();
  const decisions: EventDecision[] = [];
  const rows: string[][] = [];
  for await (const e of readEventFiles(o.events)) {
    const im = impact.add(e);
    if (other && comparison) comparison.add(im, other.add(e));
    if (o.output === "jsonl") out.write(JSON.stringify(im.decision) + "\n");
    else if (o.output === "json") decisions.push(im.decision);
    else if (!o.summary) rows.push(eventRow(e, im));
  }
  const summary = impact.summary();
  const cmp = other && comparison ? comparison.result(summary, other.summary()) : undefined;
  if (o.output === "json")
    out.write(JSON.stringify({ items: decisions, summary, comparison: cmp }, null, 2) + "\n");
  if (o.output === "table") {
    if (!o.summary) out.write(formatTable(EVENT_HEADERS, rows) + "\n");
    out.write(formatSummary(summary, o.policy));
    if (cmp && o.compare) out.write("\n" + formatComparison(cmp, o.policy, o.compare));
  }
  out.flush();
}

/** Batches stdout writes: one write per line is the bottleneck for large inputs. */
class ChunkedWriter {
  private parts: string[] = [];
  private size = 0;
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.parts.length > 0) process.stdout.write(this.parts.join(""));
    this.parts = [];
    this.size = 0;
  }
}

const EVENT_HEADERS = [
  "AUDIT-ID",
  "STAGE",
  "VERB",
  "TARGET",
  "USER",
  "LEVEL",
  "OMIT-STAGES",
  "RULE",
  "OUTCOME",
];

function eventRow(e: AuditEvent, im: EventImpact): string[] {
  const r = e.objectRef;
  const target = r
    ? [r.apiGroup, r.subresource ? `${r.resource}/${r.subresource}` : r.resource].filter(Boolean).join("/") +
      (r.namespace || r.name ? ` ${[r.namespace, r.name].filter(Boolean).join("/")}` : "")
    : e.requestURI;
  const d = im.decision;
  return [
    d.auditID,
    d.stage,
    e.verb,
    target,
    e.user?.username ?? "",
    d.level,
    d.omitStages.join(",") || "-",
    d.rule === null ? "none" : String(d.rule),
    im.dropped ?? "stored",
  ];
}
