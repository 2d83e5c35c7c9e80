// Detection cost against real ingest: webhook-shaped EventList bodies (JSON bytes) parsed,
// normalised, deduped and appended through the ingest pipeline as `serve` runs it, with
// detection off and with detection on (all built-in rules + 50 Sigma rules) wired exactly as
// serve wires it (src/detect/live.ts), in the same process, rounds interleaved. Three other
// wirings show why serve's was chosen, and the rule engine alone shows the rules' own cost.
import { Registry } from "prom-client";
import { createDetector } from "../src/detect/detector.js";
import { RuleEngine } from "../src/detect/engine.js";
import { feedDetector, StoredEntries } from "../src/detect/feed.js";
import { startLiveDetection } from "../src/detect/live.js";
import { loadRules } from "../src/detect/load-rules.js";
import { openIngest } from "../src/ingest/open-ingest.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { parseEventList, receiveEventList } from "../src/ingest/normalize.js";
import { followLog, type Follower } from "../src/store/follow.js";
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
import { benchFixture } from "./lib/paths.js";
import { workerEvaluator } from "./lib/worker-evaluator.js";
import { driveAppenders, eventListBodies } from "./lib/workload.js";

const SIGMA_DIR = benchFixture("sigma");

/** `kubetrail serve --integrate-interval` default: how long entries wait for the detector. */
const SERVE_INTEGRATE_INTERVAL_MS = 1000;

/** How detection is wired for one ingest run. */
const MODES = {
  off: "ingest, detection off",
  serve: "ingest + detection as serve runs it (ingest thread, entries from ingest)",
  threadLog: "ingest + detection in the ingest thread, re-reading the log",
  workerFed: "ingest + detection in a worker thread, events from ingest (re-encoded to cross)",
  workerLog: "ingest + detection in a worker thread, re-reading the log (before)",
} as const;
type Mode = keyof typeof MODES;

function median<T>(items: T[], key: (t: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor((items.length - 1) / 2)] as T;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "events", args.quick ? 20_000 : 200_000);
  const rounds = intOption(args, "rounds", args.quick ? 5 : 3);
  const batch = intOption(args, "batch", 400);
  const clients = intOption(args, "concurrency", 8);
  // serve's webhook parses and prepares bodies on receive worker threads (one per core beyond
  // the first) and its detector gets their bytes; import parses in its own thread.
  const receive = args.options.receive ?? "workers";
  if (receive !== "workers" && receive !== "thread")
    throw new RangeError("--receive must be workers or thread");
  const inThread = receive === "thread";
  const ruleSource = { builtins: true, dirs: [SIGMA_DIR] };
  const rules = await loadRules(ruleSource);
  const sigmaCount = rules.filter((r) => r.source !== "builtin").length;
  log(`detect: ${rules.length} rules (${sigmaCount} Sigma); generating ${n} events`);
  const load = eventListBodies(7, n, batch);

  /**
   * Opens a fresh data directory with ingest (and detection) ready; `run` is what is measured:
   * every body ingested, a signed checkpoint over the last event and, with detection, the
   * detector done with it (its alerts durable). Startup (rule loading) and shutdown are one-off
   * costs, not throughput, and stay outside the measurement for every mode alike.
   */
  const prepare = async (mode: Mode) => {
    const dataDir = tempDir("detect");
    const opened = await openIngest(fsStorage(dataDir), { integrateIntervalMs: SERVE_INTEGRATE_INTERVAL_MS });
    // Workers start on first use: started here, outside the measurement, as serve starts them.
    if (!inThread) void opened.receiver;
    const registry = new Registry();
    let follower: Follower | undefined;
    let stop = async (): Promise<void> => {};
    let seen = (): string => "";
    if (mode === "serve" || mode === "threadLog") {
      const live = await startLiveDetection({
        stateDir: dataDir,
        log: opened.log,
        pipeline: mode === "serve" ? opened.pipeline : undefined,
        rules: ruleSource,
        sinks: [],
        registry,
      });
      follower = live.feed;
      stop = live.stop;
      const s = live.feed.held.stats;
      seen = () =>
        `${live.detector.stats().alerts} alerts; entries from memory ${s.fromMemory}, from the log ${s.fromLog} (${s.notKept} not kept)`;
    } else if (mode !== "off") {
      const held = new StoredEntries();
      const detector = createDetector({
        evaluator: () => workerEvaluator(ruleSource),
        sinks: [],
        writer: opened.log,
        reader: opened.log,
        registry,
        onAppended: mode === "workerFed" ? held.add : undefined,
      });
      const from = await detector.start();
      const f =
        mode === "workerFed"
          ? feedDetector({ log: opened.log, detector, from, pipeline: opened.pipeline, held })
          : followLog(opened.log, { from, onEntries: (e) => detector.process(e) });
      follower = f;
      stop = async () => {
        await f.stop();
        await detector.close();
      };
      seen = () => `${detector.stats().alerts} alerts`;
    }
    return {
      run: async (): Promise<void> => {
        await driveAppenders(load.bodies.length, { appenders: clients, batch: 1 }, async (i) => {
          const body = load.bodies[i] as Buffer;
          if (inThread) {
            const { events, entries } = receiveEventList(body);
            return opened.pipeline.ingest(events, entries);
          }
          // As serve's webhook route: a receive worker parses and prepares the body (a copy:
          // the worker takes its buffer, and the bodies are used again by the next round).
          return opened.pipeline.ingestPrepared(await opened.receiver.receive(Buffer.from(body)));
        });
        const target = opened.log.size();
        await opened.log.waitIntegrated(target);
        while (follower && follower.position() < target) await follower.caughtUp();
      },
      close: async (): Promise<string> => {
        await stop();
        await opened.close();
        return seen();
      },
    };
  };

  const byMode = new Map<Mode, Measurement[]>();
  // --modes=off,serve runs only those (e.g. under --cpu-prof); the cost note needs both.
  const order = (args.options.modes?.split(",") ?? Object.keys(MODES)).filter((m): m is Mode => m in MODES);
  if (!order.includes("off") || !order.includes("serve"))
    throw new RangeError("--modes must include off and serve");
  // Round 0 warms the JIT up for every path and is not counted.
  for (let round = 0; round <= rounds; round++) {
    // Rotating the order spreads whatever the shared machine does over every mode alike.
    for (const mode of [...order.slice(round % order.length), ...order.slice(0, round % order.length)]) {
      const ready = await prepare(mode);
      const row = await measure(MODES[mode], { items: n, bytes: load.bytes }, ready.run);
      row.note = (await ready.close()) || undefined;
      if (round === 0) continue;
      byMode.set(mode, [...(byMode.get(mode) ?? []), row]);
      log(
        `detect: round ${round}/${rounds} ${mode}: ${row.wallS.toFixed(3)} s, CPU ${row.cpuS.toFixed(2)} s`,
      );
    }
  }

  // The rules alone on events as ingest hands them over (parsed and normalised).
  const events = load.bodies.flatMap((b) => parseEventList(b));
  const engineRuns: Measurement[] = [];
  let engineAlerts = 0;
  for (let round = 1; round <= rounds; round++) {
    engineRuns.push(
      await measure("rule engine alone (parsed events)", { items: n, bytes: load.bytes }, async () => {
        const engine = new RuleEngine(rules);
        for (let i = 0; i < events.length; i++) engine.evaluateObject(i, events[i]);
        engineAlerts = engine.stats.alerts;
      }),
    );
  }

  const pick = (mode: Mode): Measurement => median(byMode.get(mode) ?? [], (m) => m.wallS);
  const rows = [...order.map(pick), median(engineRuns, (m) => m.cpuS)];
  printTable(
    `Detection: ${n.toLocaleString("en-US")} generated audit events in EventLists of ${batch}, ${rules.length} rules (${rules.length - sigmaCount} built-in + ${sigmaCount} Sigma)`,
    rows,
    { baseline: MODES.off, unit: "events" },
  );
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  // Each round's off and on runs are neighbours in time, so their ratio cancels most of what
  // the shared machine was doing then; the median over rounds drops the outliers.
  const offRuns = byMode.get("off") ?? [];
  const onRuns = byMode.get("serve") ?? [];
  const paired = (f: (on: Measurement, off: Measurement) => number): number => {
    const ratios = onRuns.map((on, i) => f(on, offRuns[i] as Measurement));
    return median(ratios, (x) => x);
  };
  const throughputChange = paired((on, off) => off.wallS / on.wallS - 1);
  const cpuChange = paired((on, off) => on.cpuS / off.cpuS - 1);
  const signed = (x: number) => `${x < 0 ? "−" : "+"}${pct(Math.abs(x))}`;
  const engine = rows[rows.length - 1] as Measurement;
  const walls = (runs: Measurement[]) => runs.map((m) => m.wallS.toFixed(2)).join(", ");
  printNote(
    `Detection cost, goal < 15 % of ingest: with detection on as serve runs it, ingest throughput changes by ` +
      `${signed(throughputChange)} and the process's CPU by ${signed(cpuChange)} against detection off (medians ` +
      `of ${rounds} rounds, each round running every row once in rotating order after a warm-up round; wall s per round: off ${walls(offRuns)}; on ` +
      `${walls(onRuns)}). The rule engine alone needs ${pct(engine.cpuS / median(offRuns, (m) => m.cpuS).cpuS)} of ` +
      `ingest's CPU (${((engine.cpuS / n) * 1e6).toFixed(1)} µs per event, ${engineAlerts} alerts in generation ` +
      `order). Ingest rows: ${clients} concurrent clients each put an EventList body (JSON bytes) ` +
      (inThread
        ? `through the ingest pipeline in the bench's thread, as import does (parse, normalise, policy and redaction, `
        : `through a receive worker (parse, normalise, policy and redaction, the bytes to store; one worker per core beyond the first) and the ingest pipeline, as serve's webhook does (`) +
      `dedupe, append with fsync; checkpoints every ` +
      `${SERVE_INTEGRATE_INTERVAL_MS} ms as serve does); a row ends when a signed checkpoint covers the last event ` +
      `and the detector has evaluated it; opening the log, loading the rules and shutting down are not timed. ` +
      `Serve's detector takes each entry as ingest handed it over (IngestPipeline.onStored: the event parsed in ` +
      `this thread, or a receive worker's bytes with the event's digest, from which it parses nothing when no ` +
      `rule can match, and the event without its bodies when no candidate rule reads them) and its own alerts, ` +
      `and reads only the rest from the log; the worker row given the same events has ` +
      `to encode each one again to hand it over; the rows that re-read the log parse every event, in the ` +
      `ingest thread or in a worker. Row figures are each row's median round. Alert counts can ` +
      `differ by one or two between rows: concurrent clients interleave batches, so log order differs a little ` +
      `from run to run. CPU s counts every thread of the process.`,
  );
}

runIfMain(import.meta.url, main);
