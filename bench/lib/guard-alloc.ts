// A child process for bench/guard.ts's `alloc` section: what one admission review costs the
// event loop in garbage, independent of the machine's load. It drives the reviews in process
// through the code serve runs per review — the body decoded as the route decodes it, the real
// AdmissionReviewer with the real policies, serve's admission metrics, the answer encoded as
// the route encodes it — with decisions answered without logging (the log path is measured by
// the webhook section).
//
// The warm-up's decision entries and answers are hashed (the clock fixed), so two builds can
// be shown to decide alike. Then two passes over further reviews, in the same fresh heap:
//  1. scavenges and major GCs (a PerformanceObserver on `gc` entries) and CPU time, untouched;
//  2. bytes allocated, from a sampling heap profile that keeps the objects garbage collection
//     took (V8 scales each sample to what it stands for, so the total estimates every byte),
//     and the functions that allocated most.
//
//   node build/bench/lib/guard-alloc.js CONFIG.json
//     → one JSON line (GuardAllocResult)
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { constants, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { Registry } from "prom-client";
import { AdmissionReviewer } from "../../src/guard/admission.js";
import { NamespaceCache } from "../../src/guard/namespaces.js";
import { loadPolicies } from "../../src/guard/policy/load.js";
import { AdmissionMetrics } from "../../src/server/admission-metrics.js";
import type { LogWriter } from "../../src/store/types.js";
import { runIfMain } from "../harness.js";

export interface GuardAllocConfig {
  policyDir: string;
  /** AdmissionReview bodies, each with one "@UID@" replaced by the review's own uid. */
  bodies: string[];
  warmup: number;
  reviews: number;
  /** How many allocating functions to list, heaviest first. */
  top: number;
  /** Where to leave the sampling heap profile (.heapprofile, for Chrome DevTools), if anywhere. */
  heapProfile?: string;
}

export interface GuardAllocResult {
  reviews: number;
  bytesPerReview: number;
  scavenges: number;
  majorGcs: number;
  gcMs: number;
  cpuUsPerReview: number;
  /** "function url:line" and its bytes per review, heaviest first. */
  top: [string, number][];
  /** Bytes of the answers, so no engine can drop their encoding as unused. */
  answerBytes: number;
  /** SHA-256 of the warm-up's decision entries and answers: equal for builds that decide alike. */
  decisionsDigest: string;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const FIXED_CLOCK = Date.parse("2026-12-01T00:00:00Z");

/** Bytes each review costs the heap: 1 KiB between samples keeps the estimate within a percent. */
const SAMPLING_INTERVAL = 1024;

async function main(argv: string[]): Promise<void> {
  const cfg = JSON.parse(readFileSync(argv[0]!, "utf8")) as GuardAllocConfig;
  const policies = loadPolicies([cfg.policyDir], { builtins: true });
  let next = 0;
  let digest: ReturnType<typeof createHash> | undefined = createHash("sha256");
  const discard: LogWriter = {
    append: (entries) => {
      // Policies are recorded with their source file, which is in a temporary directory.
      for (const e of entries) digest?.update(Buffer.from(e).toString("utf8").replaceAll(cfg.policyDir, "…"));
      return Promise.resolve({ firstIndex: (next += entries.length) - entries.length });
    },
  };
  const reviewer = new AdmissionReviewer({
    policies: () => policies,
    writer: discard,
    namespaces: new NamespaceCache(),
    now: () => FIXED_CLOCK,
  });
  const requests = (first: number, count: number): Buffer[] =>
    Array.from({ length: count }, (_, k) =>
      Buffer.from(cfg.bodies[(first + k) % cfg.bodies.length]!.replace("@UID@", `uid-${first + k}`)),
    );
  const metrics = new AdmissionMetrics(new Registry());
  let answerBytes = 0;
  const run = async (bodies: Buffer[]): Promise<void> => {
    for (const b of bodies) {
      // As the route: the body decoded, reviewed, the answer encoded (and here only counted).
      const started = process.hrtime.bigint();
      const outcome = await reviewer.review(JSON.parse(b.toString("utf8")));
      metrics.answered(outcome, Number(process.hrtime.bigint() - started) / 1e9);
      const answer = JSON.stringify(outcome.response) + "\n";
      digest?.update(answer);
      answerBytes += answer.length;
    }
  };

  await run(requests(0, cfg.warmup));
  const decisionsDigest = digest.digest("hex");
  digest = undefined;

  const gcBodies = requests(cfg.warmup, cfg.reviews);
  const gc = { scavenges: 0, major: 0, ms: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      gc.ms += e.duration;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const cpu0 = process.cpuUsage();
  await run(gcBodies);
  const cpu = process.cpuUsage(cpu0);
  // The observer hears of the last collections on a later turn of the event loop.
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();

  const profiledBodies = requests(cfg.warmup + cfg.reviews, cfg.reviews);
  const session = new Session();
  session.connect();
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await run(profiledBodies);
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as unknown as {
    profile: { head: ProfileNode };
  };
  session.disconnect();
  if (cfg.heapProfile !== undefined) writeFileSync(cfg.heapProfile, JSON.stringify(profile));

  let total = 0;
  const bySite = new Map<string, number>();
  const walk = (n: ProfileNode): void => {
    total += n.selfSize;
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const site = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/build\//, "")}:${f.lineNumber + 1}`;
      bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    }
    n.children.forEach(walk);
  };
  walk(profile.head);
  const result: GuardAllocResult = {
    reviews: cfg.reviews,
    bytesPerReview: total / cfg.reviews,
    scavenges: gc.scavenges,
    majorGcs: gc.major,
    gcMs: gc.ms,
    cpuUsPerReview: (cpu.user + cpu.system) / cfg.reviews,
    top: [...bySite]
      .sort((a, b) => b[1] - a[1])
      .slice(0, cfg.top)
      .map(([site, bytes]) => [site, bytes / cfg.reviews]),
    answerBytes,
    decisionsDigest,
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

runIfMain(import.meta.url, main);
