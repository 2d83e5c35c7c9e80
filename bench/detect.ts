// Detection cost: the same generated audit events ingested into the fs log with detection off,
// and with the live detector (all built-in rules + 50 Sigma rules) following the log in the
// same process; plus the rule engine alone, whose time as a share of ingest time is the figure
// the issue bounds (< 15 %).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { createDetector } from "../src/detect/detector.js";
import { RuleEngine } from "../src/detect/engine.js";
import { loadRules } from "../src/detect/load-rules.js";
import { followLog } from "../src/store/follow.js";
import { openFsLog } from "../src/store/fs-log.js";
import {
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
import { driveAppenders, generatedEntries } from "./lib/workload.js";

const here = path.dirname(fileURLToPath(import.meta.url));
// Built to build/bench/detect.js; the rule files stay in the source tree.
const SIGMA_DIR = path.resolve(here, "..", "..", "bench", "fixtures", "sigma");

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "entries", args.quick ? 20_000 : 200_000);
  const shape = { appenders: intOption(args, "appenders", 16), batch: intOption(args, "batch", 10) };
  const ruleSource = { builtins: true, dirs: [SIGMA_DIR] };
  const rules = await loadRules(ruleSource);
  const sigmaCount = rules.filter((r) => r.source !== "builtin").length;
  log(`detect: ${rules.length} rules (${sigmaCount} Sigma); generating ${n} events`);
  const data = generatedEntries(7, n);
  const rows: Measurement[] = [];

  const ingest = async (detection: "off" | "thread" | "worker"): Promise<number> => {
    const log = await openFsLog(path.join(tempDir("detect"), "data"));
    let alerts = 0;
    const common = { sinks: [], writer: log, reader: log, registry: new Registry() };
    const detector =
      detection === "off"
        ? undefined
        : detection === "worker"
          ? createDetector({ ...common, workerRules: ruleSource })
          : createDetector({ ...common, rules });
    const follower =
      detector &&
      followLog(log, { from: await detector.start(), onEntries: (entries) => detector.process(entries) });
    await driveAppenders(n, shape, (s, e) => log.append(data.buffers.slice(s, e)));
    await log.waitIntegrated(n);
    if (follower && detector) {
      // Done once every ingested event was evaluated (its alerts are durable by then).
      while (follower.position() < n) await follower.caughtUp();
      await follower.stop();
      await detector.close();
      alerts = detector.stats().alerts;
    }
    await log.close();
    return alerts;
  };

  rows.push(
    await measure("ingest, detection off", { items: n, bytes: data.bytes }, async () => {
      await ingest("off");
    }),
  );
  log("detect: ingest without detection done");
  const alertsBy: Record<string, number> = {};
  for (const mode of ["worker", "thread"] as const) {
    rows.push(
      await measure(
        `ingest + detection in ${mode === "worker" ? "a worker thread" : "the ingest thread"}`,
        { items: n, bytes: data.bytes },
        async (probe) => {
          alertsBy[mode] = await ingest(mode);
          probe.note = `${alertsBy[mode]} alerts appended`;
        },
      ),
    );
    log(`detect: ingest with detection (${mode}) done`);
  }
  let engineAlerts = 0;
  rows.push(
    await measure("rule engine alone", { items: n, bytes: data.bytes }, async () => {
      const engine = new RuleEngine(rules);
      for (let i = 0; i < n; i++) engine.evaluateEntry(i, data.buffers[i] as Buffer);
      engineAlerts = engine.stats.alerts;
    }),
  );

  printTable(
    `Detection: ${n.toLocaleString("en-US")} generated audit events, ${rules.length} rules (${rules.length - sigmaCount} built-in + ${sigmaCount} Sigma)`,
    rows,
    { baseline: "ingest, detection off", unit: "events" },
  );
  const [off, worker, thread, engine] = rows as [Measurement, Measurement, Measurement, Measurement];
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  printNote(
    `Detection cost, goal < 15 % of ingest. Throughput with detection in a worker thread: ` +
      `${pct(worker.items / worker.wallS / (off.items / off.wallS))} of ingest without detection ` +
      `(in the ingest thread: ${pct(thread.items / thread.wallS / (off.items / off.wallS))}). ` +
      `The rule engine alone (JSON parse + ${rules.length} rules) needs ${pct(engine.cpuS / n / (off.wallS / n))} ` +
      `of ingest's wall time per event and ${pct(engine.cpuS / off.cpuS)} of its CPU. Alerts: ` +
      `${alertsBy.worker} (worker), ${alertsBy.thread} (thread), ${engineAlerts} (engine alone, generation order); ` +
      `concurrent appenders interleave batches, so the log order detection follows differs a little from run ` +
      `to run, and a windowed rule can close a burst one event earlier or later. Ingest rows append with ${shape.appenders} concurrent clients × ${shape.batch}-entry ` +
      `batches, fsync and sign checkpoints; detection rows end once the detector has evaluated every ingested ` +
      `entry (it re-reads them from the log, as serve does). CPU s counts every thread of the process.`,
  );
}

runIfMain(import.meta.url, main);
