// Ingest-time policy and redaction cost: the same generated audit events go through
// normalise → append to the fs log (no policy) and normalise → policy + redaction → append,
// in the same run, with a ~20-rule policy modelled on GKE's default (bench/fixtures/policy-gke.yaml).
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { createIngestTransform, type IngestTransform } from "../src/audit/ingest-transform.js";
import { loadPolicyFile } from "../src/audit/policy/load.js";
import type { Policy } from "../src/audit/policy/types.js";
import type { AuditEvent } from "../src/audit/types.js";
import { encodeEvent, parseEventLine } from "../src/ingest/normalize.js";
import { openFsLog } from "../src/store/fs/storage.js";
import {
  bestOf,
  intOption,
  log,
  measure,
  type Measurement,
  parseBenchArgs,
  printNote,
  printTable,
  runIfMain,
  tempDir,
} from "./harness.js";
import { benchFixture } from "./lib/paths.js";
import { driveAppenders, generatedEntries, type Entries } from "./lib/workload.js";

const POLICY_FILE = benchFixture("policy-gke.yaml");

/**
 * The same rules at RequestResponse, keeping managedFields and every stage: the full cost of
 * evaluation and redaction with nothing dropped or shrunk, so the stored bytes match the baseline's.
 */
function keepEverything(p: Policy): Policy {
  return {
    ...p,
    omitStages: [],
    omitManagedFields: false,
    rules: p.rules.map(({ omitManagedFields: _omf, ...r }) => ({
      ...r,
      level: "RequestResponse",
      omitStages: [],
    })),
  };
}

/**
 * normalise (+ transform) → encode; what the webhook handler does per event before append. The
 * transform is given each line's bytes, as import and the webhook give it the event's bytes.
 */
function prepare(
  lines: readonly string[],
  start: number,
  end: number,
  transform?: IngestTransform,
  raws?: readonly Uint8Array[],
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = start; i < end; i++) {
    let ev: AuditEvent | null = parseEventLine(lines[i]!, `line ${i + 1}`);
    if (transform) ev = transform(ev, raws?.[i]);
    if (ev) out.push(encodeEvent(ev));
  }
  return out;
}

async function cpuOnly(
  name: string,
  note: string,
  data: Entries,
  batch: number,
  transform?: IngestTransform,
): Promise<Measurement> {
  const { lines, buffers } = data;
  return measure(name, { items: lines.length, note }, async (probe) => {
    let kept = 0;
    for (let s = 0; s < lines.length; s += batch)
      kept += prepare(lines, s, Math.min(lines.length, s + batch), transform, buffers).length;
    probe.note = `${note}; ${kept} kept`;
  });
}

async function intoLog(
  name: string,
  note: string,
  data: Entries,
  shape: { appenders: number; batch: number },
  transform?: IngestTransform,
): Promise<Measurement> {
  const { lines, buffers } = data;
  const dir = tempDir("policy");
  try {
    return await measure(name, { items: lines.length, note }, async (probe) => {
      const kt = await openFsLog(path.join(dir, "data"));
      let kept = 0;
      await driveAppenders(
        lines.length,
        shape,
        async (s, e) => {
          const entries = prepare(lines, s, e, transform, buffers);
          kept += entries.length;
          if (entries.length > 0) await kt.append(entries);
        },
        probe,
      );
      await kt.waitIntegrated(kt.size());
      await kt.close();
      probe.note = `${note}; ${kept} stored`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "events", args.quick ? 20_000 : 100_000);
  const appenders = intOption(args, "appenders", 8);
  const batch = intOption(args, "batch", 100);
  log(`policy: generating ${n} events`);
  const data = generatedEntries(5, n);
  const policy = loadPolicyFile(POLICY_FILE);
  const key = randomBytes(32);
  const variants: [string, IngestTransform | undefined, string][] = [
    ["no policy", undefined, "normalise → append"],
    ["redaction only", createIngestTransform({ redaction: { key } }), "no policy"],
    [
      "GKE-like policy, keep all",
      createIngestTransform({ policy: keepEverything(policy), redaction: { key } }),
      `${policy.rules.length} rules evaluated, all kept at RequestResponse`,
    ],
    [
      "GKE-like policy",
      createIngestTransform({ policy, redaction: { key } }),
      `${policy.rules.length} rules as written`,
    ],
  ];

  // Variants run interleaved, rotating which goes first, and each row is the best of the
  // rounds: the machine is shared, so one run of each would mostly measure the neighbours.
  const rounds = intOption(args, "rounds", args.quick ? 5 : 3);
  const cpuRuns = new Map<string, Measurement[]>();
  const logRuns = new Map<string, Measurement[]>();
  for (let r = 0; r < rounds; r++) {
    for (let v = 0; v < variants.length; v++) {
      const [name, transform, note] = variants[(v + r) % variants.length]!;
      cpuRuns.set(name, [...(cpuRuns.get(name) ?? []), await cpuOnly(name, note, data, batch, transform)]);
      logRuns.set(name, [
        ...(logRuns.get(name) ?? []),
        await intoLog(name, note, data, { appenders, batch }, transform),
      ]);
    }
    log(`policy: round ${r + 1}/${rounds} done`);
  }
  const cpuRows = variants.map(([name]) => bestOf(cpuRuns.get(name)!));
  const rows = variants.map(([name]) => bestOf(logRuns.get(name)!));

  printTable("Per-event work only (parse + normalise [+ policy + redaction] + encode), no log", cpuRows, {
    baseline: "no policy",
    unit: "events",
  });
  printTable(
    `Ingest into the fs log (${appenders} appenders × ${batch}-event batches, fsync, signed checkpoint)`,
    rows,
    {
      baseline: "no policy",
      unit: "events",
    },
  );
  const base = rows[0]!;
  const keepAll = rows[2]!;
  const cpuPerEvent = ((keepAll.cpuS - base.cpuS) / n) * 1e6;
  const cpuOnlyPerEvent = ((cpuRows[2]!.cpuS - cpuRows[0]!.cpuS) / n) * 1e6;
  printNote(
    `Cost of evaluating the ${policy.rules.length}-rule policy and redacting with everything kept ` +
      `(best of ${rounds} interleaved rounds, median CPU): ingest throughput ${(keepAll.items / keepAll.wallS / (base.items / base.wallS)).toFixed(2)}× ` +
      `the baseline's; CPU per event +${cpuPerEvent.toFixed(1)} µs of ${((base.cpuS / n) * 1e6).toFixed(1)} µs in the ingest run ` +
      `(${((100 * (keepAll.cpuS - base.cpuS)) / base.cpuS).toFixed(1)}%), +${cpuOnlyPerEvent.toFixed(1)} µs in the per-event run.`,
  );
  printNote(
    'Throughput counts input events. "keep all" evaluates the same 20 rules but stores every event at ' +
      "RequestResponse with redaction, so it isolates the cost of evaluation + redaction; the policy as " +
      "written also drops events (level None, RequestReceived), which makes ingest cheaper, not dearer.",
  );
}

runIfMain(import.meta.url, main);
