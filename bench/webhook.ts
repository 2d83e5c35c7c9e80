// Webhook ingest end to end: a load generator (this process) posts EventLists of 400 generated
// events over HTTPS keep-alive to a server in a separate process, and counts an event only when
// its batch is acknowledged (durable). Two servers on the same HTTP core, same parsing and
// normalisation: kubetrail (`serve`: dedupe, fs log, tiles, signed checkpoints) and the plain
// "JSON lines + fdatasync" writer (the apiserver's own log backend, no integrity, no dedupe).
// Two runs each: sustained (as fast as acks come back) and paced at a fixed rate for latency.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pino } from "pino";
import { parseEventList } from "../src/ingest/normalize.js";
import { RECEIVE_THREAD_NAME, startReceiver } from "../src/ingest/receive.js";
import { createMetrics } from "../src/server/metrics.js";
import { webhookRoutes } from "../src/server/routes/webhook.js";
import { detectServeExtension } from "../src/server/detect-extension.js";
import { queryServeExtension } from "../src/server/routes/query.js";
import type { Indexer } from "../src/index/indexer.js";
import { INDEX_WRITER_THREAD_NAME } from "../src/index/index-writer.js";
import { runServe } from "../src/server/run-serve.js";
import { startServer } from "../src/server/server.js";
import { loadOrCreateServingCert } from "../src/server/serving-cert.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { openSnapshot } from "../src/store/storage.js";
import { JsonlWriter } from "./baselines/jsonl-writer.js";
import {
  createChainTable,
  findPostgresBin,
  insertBatch,
  PostgresUnavailable,
  startPostgres,
} from "./baselines/postgres.js";
import { eventListBodies } from "./lib/workload.js";
import {
  intOption,
  log,
  measure,
  type Measurement,
  parseBenchArgs,
  percentile,
  printNote,
  printTable,
  runIfMain,
  tempDir,
  cpuByThreadName,
  threadCpuSeconds,
  threadsCpuSeconds,
  treeCpuSeconds,
} from "./harness.js";

const BATCH = 400;
/** Pause between the sustained and the paced row of one server. */
const SETTLE_MS = 6_000;
const TOKEN = "bench-ingest-token-0123456789abcdef";
const LIMITS = { maxBytes: 64 * 1024 * 1024, maxDecodedBytes: 256 * 1024 * 1024 };

/**
 * "kubetrail-full" is `serve` as shipped: also the index feeder and the detector, competing for
 * CPU. "kubetrail-full-thread-index" is the same with the index written on serve's event loop
 * (as before its writer worker), to set the two side by side; "kubetrail-full-unbounded" without
 * the index's back-pressure on ingest (--index-max-lag 0; 2s by default). A "-novalues" system is the same `serve` with redaction by value (docs/secrets.md) off:
 * its cost is the difference between the two.
 */
type System =
  | "kubetrail"
  | "kubetrail-full"
  | "kubetrail-full-thread-index"
  | "kubetrail-full-unbounded"
  | "kubetrail-novalues"
  | "kubetrail-full-novalues"
  | "jsonl"
  | "postgres";

const isKubetrail = (s: System): s is Exclude<System, "jsonl" | "postgres"> => s.startsWith("kubetrail");
const isFull = (s: System): boolean => s.startsWith("kubetrail-full");

/** Where a baseline server puts accepted events: durable before the batch is acknowledged. */
interface BaselineSink {
  append(entries: Uint8Array[]): Promise<unknown>;
  close(): Promise<void>;
}

async function openBaselineSink(system: "jsonl" | "postgres", dataDir: string): Promise<BaselineSink> {
  if (system === "jsonl") return JsonlWriter.open(path.join(dataDir, "audit.log"));
  const pg = await startPostgres();
  const pool = pg.pool(8);
  await createChainTable(pool);
  return {
    append: (entries) =>
      insertBatch(
        pool,
        entries.map((e) => Buffer.from(e).toString("utf8")),
      ),
    close: async () => {
      await pool.end();
      await pg.stop();
    },
  };
}

// ---- the server process ----

async function serveRole(system: System, dataDir: string): Promise<void> {
  const logger = pino({ level: "warn" });
  let shutdown: () => Promise<void>;
  let port: number;
  if (isKubetrail(system)) {
    const { writeFileSync } = await import("node:fs");
    const tokenFile = path.join(dataDir, "bench-token");
    writeFileSync(tokenFile, TOKEN + "\n");
    const query = isFull(system)
      ? queryServeExtension(dataDir, {
          ...(system === "kubetrail-full-thread-index" ? { writeIn: "thread" } : {}),
          ...(system === "kubetrail-full-unbounded" ? { maxLagMs: 0 } : {}),
        })
      : undefined;
    const running = await runServe(
      {
        dataDir,
        listen: { host: "127.0.0.1", port: 0 },
        insecureHttp: false,
        tokenFile,
        maxBodyBytes: LIMITS.maxBytes,
        maxDecodedBodyBytes: LIMITS.maxDecodedBytes,
        requestTimeoutMs: 60_000,
        shutdownGraceMs: 30_000,
        integrateIntervalMs: 1000,
        valueDetection: !system.endsWith("-novalues"),
      },
      logger,
      query ? [query, detectServeExtension({ stateDir: dataDir, rulesDirs: [], logger })] : [],
    );
    port = running.server.port;
    const lag = query ? watchIndexLag(query.running(), () => query.lagGate()?.waited()) : undefined;
    shutdown = async () => {
      lag?.report();
      await running.shutdown("bench done");
    };
  } else {
    const writer = await openBaselineSink(system, dataDir);
    const receiver = startReceiver();
    const cert = await loadOrCreateServingCert(dataDir);
    const metrics = createMetrics();
    const server = await startServer(
      {
        routes: webhookRoutes({
          metrics,
          limits: LIMITS,
          accepting: () => true,
          // The same receive workers as kubetrail (parse, normalise, the bytes to store: as
          // sent where possible), without the redaction transform; then just lines and
          // fdatasync, or the chain table.
          receive: (body) => receiver.receive(body),
          ingest: async (batch) => {
            const entries = batch.events.map((e) => e.bytes);
            await writer.append(entries);
            const bytes = entries.reduce((n, e) => n + e.length, 0);
            return {
              received: batch.received,
              stored: entries.length,
              duplicates: 0,
              conflicts: 0,
              dropped: 0,
              storedBytes: bytes,
            };
          },
        }),
        auth: { ingestTokens: [TOKEN], readTokens: [] },
        logger,
        metrics,
        tls: { cert: cert.cert, key: cert.key },
      },
      { host: "127.0.0.1", port: 0 },
    );
    port = server.port;
    shutdown = async () => {
      await server.close();
      await receiver.close();
      await writer.close();
    };
  }
  process.stdout.write(JSON.stringify({ port }) + "\n");
  // Event-loop stalls (GC, synchronous I/O) delay every request at once: reported to the load side.
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
  delay.disable();
  process.stderr.write(
    `[bench] ${system} server event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms, max ${(delay.max / 1e6).toFixed(0)} ms\n`,
  );
  await shutdown();
  process.exit(0);
}

/**
 * Samples the index's lag behind the log every 100 ms while the server runs; at shutdown
 * tells the worst seen and what indexing cost on its own, so the load side can set the rate
 * the index could sustain beside the rate the webhook sustained in the same run.
 */
function watchIndexLag(
  indexer: Indexer | undefined,
  waited: () => { seconds: number; batches: number } | undefined,
): { report(): void } {
  if (indexer === undefined) throw new Error("kubetrail-full: the query extension did not start an indexer");
  let worst = { entries: 0, seconds: 0, sinceAck: 0 };
  const sampler = setInterval(() => {
    const lag = indexer.lag();
    worst = {
      entries: Math.max(worst.entries, lag.entries),
      seconds: Math.max(worst.seconds, lag.seconds),
      sinceAck: Math.max(worst.sinceAck, indexer.backlog().seconds),
    };
  }, 100);
  return {
    report() {
      clearInterval(sampler);
      const s = indexer.sources();
      const indexed = s.fromMemory + s.fromLog;
      // CPU time of the writer thread survives a loaded machine, where its wall time does not.
      const writerCpuSeconds = threadCpuSeconds(process.pid, INDEX_WRITER_THREAD_NAME);
      process.stdout.write(
        JSON.stringify({
          indexLag: {
            maxEntries: worst.entries,
            maxSeconds: worst.seconds,
            maxSecondsSinceAck: worst.sinceAck,
            indexed,
            fromMemory: s.fromMemory,
            busySeconds: s.busySeconds,
            writerCpuSeconds,
            waited: waited() ?? null,
          },
        }) + "\n",
      );
    },
  };
}

// ---- the load generator ----

interface ServerHandle {
  child: ChildProcess;
  port: number;
  ca: string;
  /** Everything the server wrote to stdout so far (its port, then what it tells at shutdown). */
  output(): string;
  stop(): Promise<void>;
}

interface IndexLagReport {
  maxEntries: number;
  maxSeconds: number;
  /** The worst age of an acknowledged entry not indexed yet (what the back-pressure bounds). */
  maxSecondsSinceAck: number;
  indexed: number;
  fromMemory: number;
  busySeconds: number;
  /** CPU seconds of the index writer thread (0 when the index is written on the event loop). */
  writerCpuSeconds: number;
  /** What webhook batches waited for the index (--index-max-lag); null without a bound. */
  waited: { seconds: number; batches: number } | null;
}

async function startServerProcess(system: System, dataDir: string): Promise<ServerHandle> {
  const self = fileURLToPath(import.meta.url);
  // execArgv passes through, so `node --cpu-prof build/bench/webhook.js` profiles the server too.
  const child = spawn(
    process.execPath,
    [...process.execArgv, self, `--role=server`, `--system=${system}`, `--data=${dataDir}`],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let buf = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => l.startsWith('{"port"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on("exit", (code) => reject(new Error(`${system} server exited with ${code}`)));
  });
  const ca = readFileSync(path.join(dataDir, "tls", "ca.crt"), "utf8");
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    child,
    port,
    ca,
    output: () => buf,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function post(agent: https.Agent, h: ServerHandle, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        servername: "localhost",
        port: h.port,
        method: "POST",
        path: "/v1/audit/webhook",
        ca: h.ca,
        agent,
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${TOKEN}`,
          "Content-Length": body.length,
        },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`webhook answered ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

interface Load {
  bodies: Buffer[];
  bytes: number;
  events: number;
}

/** What the sustained sender posts: `batches` bodies, body(i) for the i-th. */
interface Sends {
  batches: number;
  body(i: number): Buffer;
  bytes: number;
  events: number;
}

const AUDIT_ID = Buffer.from('"auditID":"');

/**
 * `events` events from a pool generated once: round r > 0 re-sends the pool with r in the
 * first eight hex digits of every auditID, so each event is new to the server (a new dedupe
 * key, a new entry) while the generator keeps the memory and CPU of one pool. A run of
 * millions of events then measures the server as its dedupe store and log grow.
 */
function recycled(pool: Load, events: number): Sends {
  // Where each body's auditIDs are, found when the body is first re-sent.
  const offsets: number[][] = [];
  const auditIDsOf = (k: number): number[] => {
    if (offsets[k] !== undefined) return offsets[k];
    const b = pool.bodies[k]!;
    const at: number[] = [];
    for (let i = b.indexOf(AUDIT_ID); i >= 0; i = b.indexOf(AUDIT_ID, i + 1)) at.push(i + AUDIT_ID.length);
    return (offsets[k] = at);
  };
  const per = pool.events / pool.bodies.length;
  const batches = Math.ceil(events / per);
  return {
    batches,
    body(i) {
      const round = Math.floor(i / pool.bodies.length);
      const k = i % pool.bodies.length;
      if (round === 0) return pool.bodies[k]!;
      const copy = Buffer.from(pool.bodies[k]!);
      const tag = round.toString(16).padStart(8, "0");
      for (const at of auditIDsOf(k)) copy.write(tag, at, "latin1");
      return copy;
    },
    bytes: Math.round((pool.bytes / pool.bodies.length) * batches),
    events: batches * per,
  };
}

function bodies(seed: number, count: number): Load {
  const out = eventListBodies(seed, count, BATCH);
  // Sanity: the bodies parse as the server will parse them.
  parseEventList(out.bodies[0]!);
  return { ...out, events: count };
}

/** The first `count` events of `load` (rounded up to whole batches), without generating them again. */
function firstEvents(load: Load, count: number): Load {
  const taken = load.bodies.slice(0, Math.ceil(count / BATCH));
  return {
    bodies: taken,
    bytes: taken.reduce((sum, b) => sum + b.length, 0),
    events: Math.min(load.events, taken.length * BATCH),
  };
}

/** Logs each million events of a long run: its rate and the server's CPU per event. */
function perMillion(system: System, pid: number): { every: number; tell(batches: number): void } {
  const every = Math.round(1_000_000 / BATCH);
  const events = every * BATCH;
  let mark = { t: performance.now(), cpu: treeCpuSeconds(pid) };
  return {
    every,
    tell(batches) {
      const now = { t: performance.now(), cpu: treeCpuSeconds(pid) };
      log(
        `webhook: ${system} ${(batches * BATCH).toLocaleString("en-US")} events, the last ` +
          `${events.toLocaleString("en-US")} at ${Math.round(events / ((now.t - mark.t) / 1000))} events/s, ` +
          `server CPU ${(((now.cpu - mark.cpu) / events) * 1e6).toFixed(0)} µs/event`,
      );
      mark = now;
    },
  };
}

/** Sends every body with `concurrency` requests in flight, as fast as acks return. */
async function sustained(
  agent: https.Agent,
  h: ServerHandle,
  sends: Sends,
  concurrency: number,
  time: (op: () => Promise<void>) => Promise<void>,
  /** Told the number of batches acknowledged so far, after each. */
  onAcked?: (acked: number) => void,
): Promise<void> {
  let next = 0;
  let acked = 0;
  const worker = async () => {
    while (next < sends.batches) {
      const body = sends.body(next++);
      await time(() => post(agent, h, body));
      onAcked?.(++acked);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Sends one batch every BATCH/rate seconds regardless of acks (open loop), timing each ack. */
async function paced(
  agent: https.Agent,
  h: ServerHandle,
  all: Buffer[],
  ratePerS: number,
  latencies: number[],
): Promise<void> {
  const intervalMs = (BATCH / ratePerS) * 1000;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < all.length; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const start = performance.now();
    inflight.push(post(agent, h, all[i]!).then(() => void latencies.push(performance.now() - start)));
  }
  await Promise.all(inflight);
}

function vmKB(pid: number, field: "VmHWM" | "VmRSS"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface RunSetup {
  n: number;
  rate: number;
  concurrency: number;
  load: Load;
  pacedLoad: Load;
  settleMs: number;
}

/** The CPU each named thread of `pid` spent since `before`, per event, as "name µs, …". */
function perEventByThread(before: ReturnType<typeof threadsCpuSeconds>, pid: number, events: number): string {
  return cpuByThreadName(before, threadsCpuSeconds(pid))
    .map(([name, s]) => `${name} ${((s / events) * 1e6).toFixed(1)}`)
    .join(", ");
}

/** One server process: a sustained row, then (after settling) a paced row; the server's CPU per event. */
async function runSystem(
  system: System,
  name: string,
  { n, rate, concurrency, load, pacedLoad, settleMs }: RunSetup,
): Promise<{
  rows: Measurement[];
  note: string;
  serverUsPerEvent: number;
  steadyUsPerEvent: number;
  receiveUsPerEvent: number;
  steadyReceiveUsPerEvent: number;
}> {
  const dir = tempDir(`webhook-${system}`);
  const h = await startServerProcess(system, dir);
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  const pid = h.child.pid!;
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(vmKB(pid, "VmRSS") / 1024), 200);
  log(`webhook: ${system} sustained`);
  // PostgreSQL runs about 20× slower: it gets a tenth of the events (the same first ones); all
  // 400,000 took over four minutes.
  const sustainedLoad =
    system === "postgres" ? recycled(firstEvents(load, n / 10), n / 10) : recycled(load, n);
  const events = sustainedLoad.events;
  // The first fifth of the run also pays for starting up (receive workers loading their code and
  // building their tables, code not yet optimised): the steady figure leaves it out.
  const warmBatches = Math.floor(sustainedLoad.batches / 5);
  let cpuWarm = NaN;
  let receiveWarm = NaN;
  const million = perMillion(system, pid);
  const onAcked = (acked: number) => {
    if (acked % million.every === 0) million.tell(acked);
    if (acked === warmBatches) {
      cpuWarm = treeCpuSeconds(pid);
      receiveWarm = threadCpuSeconds(pid, RECEIVE_THREAD_NAME);
    }
  };
  const cpu0 = treeCpuSeconds(pid);
  const receive0 = threadCpuSeconds(pid, RECEIVE_THREAD_NAME);
  const threads0 = threadsCpuSeconds(pid);
  const row = await measure(
    `${name} — sustained, ${concurrency} in flight`,
    { items: events, bytes: sustainedLoad.bytes, extraPids: () => [pid] },
    (probe) => sustained(agent, h, sustainedLoad, concurrency, (op) => probe.time(op), onAcked),
  );
  clearInterval(sampler);
  // The server's own CPU per event: steadier than wall time on a shared machine.
  const cpuEnd = treeCpuSeconds(pid);
  // Where the server's CPU went, thread by thread ("node": V8's and libuv's helper threads).
  const byThread = perEventByThread(threads0, pid, events);
  const serverUsPerEvent = ((cpuEnd - cpu0) / events) * 1e6;
  // The receive threads parse, redact and hash: where redaction by value adds its work.
  const receiveEnd = threadCpuSeconds(pid, RECEIVE_THREAD_NAME);
  const receiveUsPerEvent = ((receiveEnd - receive0) / events) * 1e6;
  const steadyReceiveUsPerEvent = ((receiveEnd - receiveWarm) / (events - warmBatches * BATCH)) * 1e6;
  const steadyUsPerEvent = ((cpuEnd - cpuWarm) / (events - warmBatches * BATCH)) * 1e6;
  // The load generator shares the cores: with both saturated, no server could go faster
  // than cores / (server + generator CPU per event). PostgreSQL's own processes are not the
  // server's children (pg_ctl detaches them), so for that row neither figure is known.
  const clientUsPerEvent = Math.max(0, (row.cpuS / events) * 1e6 - serverUsPerEvent);
  const ceiling = (os.availableParallelism() * 1e6) / (serverUsPerEvent + clientUsPerEvent);
  const cpu =
    system === "postgres"
      ? `server CPU ${serverUsPerEvent.toFixed(0)} µs/event without PostgreSQL's own`
      : `server CPU ${serverUsPerEvent.toFixed(0)} µs/event (${steadyUsPerEvent.toFixed(0)} after the first fifth; receive threads ${receiveUsPerEvent.toFixed(1)}, ${steadyReceiveUsPerEvent.toFixed(1)} after the first fifth), load generator ${clientUsPerEvent.toFixed(0)} µs/event, so at most ${Math.round(ceiling / 100) * 100} events/s on ${os.availableParallelism()} cores`;
  const half = Math.floor(rssSamples.length / 2);
  const peak = (xs: number[]) => Math.max(0, ...xs).toFixed(0);
  row.note = `${cpu}; server CPU by thread, µs/event: ${byThread}; server peak RSS ${(vmKB(pid, "VmHWM") / 1024).toFixed(0)} MB (1st half ${peak(rssSamples.slice(0, half))} MB, 2nd half ${peak(rssSamples.slice(half))} MB); latency = per batch of ${BATCH}`;
  // The paced row measures the steady state: it starts once the server has worked off the
  // sustained burst (integration, the tile sync every 5 s, the dedupe flush). Right after the
  // burst the first few acks took 100–250 ms while that backlog drained.
  await new Promise((r) => setTimeout(r, settleMs));
  log(`webhook: ${system} paced at ${rate} events/s`);
  const latencies: number[] = [];
  const pacedThreads0 = threadsCpuSeconds(pid);
  const pacedRow = await measure(
    `${name} — paced ${rate} events/s`,
    { items: pacedLoad.bodies.length * BATCH, bytes: pacedLoad.bytes, extraPids: () => [pid] },
    async (probe) => {
      await paced(agent, h, pacedLoad.bodies, rate, latencies);
      probe.latenciesMs.push(...latencies);
    },
  );
  // At a fixed rate the server is not saturated: its CPU per event, thread by thread, is what
  // a cluster sending this much costs (small batches, short transactions).
  const pacedByThread = perEventByThread(pacedThreads0, pid, pacedLoad.bodies.length * BATCH);
  pacedRow.note = `ack p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; server CPU by thread, µs/event: ${pacedByThread}`;
  agent.destroy();
  await h.stop();
  if (isFull(system)) row.note += "; " + indexNote(h.output(), events / row.wallS);
  if (system.startsWith("kubetrail")) {
    // Every event sent was new (recycled rounds included), so the log holds at least them all.
    const size = (await openSnapshot(fsStorage(dir))).size();
    const sent = sustainedLoad.events + pacedLoad.events;
    if (!(size >= sent))
      throw new Error(`${system}: the log holds ${size} entries after ${sent} events were sent`);
  }
  return {
    rows: [row, pacedRow],
    note: `${row.note}; paced ${pacedRow.note}`,
    serverUsPerEvent,
    steadyUsPerEvent,
    receiveUsPerEvent,
    steadyReceiveUsPerEvent,
  };
}

/**
 * The index beside the sustained webhook: the rate it could index at on its own (entries over
 * the seconds it spent making and writing rows) against the rate the webhook sustained in the
 * same run, and the worst lag behind the log sampled while both ran.
 */
function indexNote(output: string, webhookRate: number): string {
  const line = output.split("\n").find((l) => l.startsWith('{"indexLag"'));
  if (line === undefined) throw new Error("kubetrail-full: the server told nothing about its index");
  const r = (JSON.parse(line) as { indexLag: IndexLagReport }).indexLag;
  const rate = r.indexed / r.busySeconds;
  const cpuRate = r.indexed / r.writerCpuSeconds;
  const cpu =
    r.writerCpuSeconds > 0
      ? `; writer thread CPU ${r.writerCpuSeconds.toFixed(1)} s = ${((r.writerCpuSeconds * 1e6) / r.indexed).toFixed(1)} µs/entry, ` +
        `${Math.round(cpuRate).toLocaleString("en-US")} entries per CPU-second, ${(cpuRate / webhookRate).toFixed(2)}× the webhook`
      : "";
  return (
    `index: ${r.indexed.toLocaleString("en-US")} entries (${r.fromMemory.toLocaleString("en-US")} as ingest parsed them) ` +
    `in ${r.busySeconds.toFixed(1)} s of its own work = ${Math.round(rate).toLocaleString("en-US")} entries/s, ` +
    `${(rate / webhookRate).toFixed(2)}× the ${Math.round(webhookRate).toLocaleString("en-US")} events/s the webhook sustained${cpu}; ` +
    `worst lag behind the log ${r.maxEntries.toLocaleString("en-US")} entries, ${r.maxSeconds.toFixed(1)} s ` +
    `(${r.maxSecondsSinceAck.toFixed(1)} s after acknowledgement)` +
    (r.waited === null
      ? "; no bound on the lag"
      : `; ${r.waited.batches.toLocaleString("en-US")} batches waited for the index, ${r.waited.seconds.toFixed(1)} s in all`)
  );
}

/**
 * What redaction by value adds to the server's CPU per event (sustained rows): the difference
 * of each round's pair, and their median. A pair ran back to back, so it shares the machine's
 * load of the moment; the median of the pairs resists the odd disturbed run.
 */
function valueDetectionCost(what: string, on: readonly number[], off: readonly number[]): string {
  const pairs = pairedCost(on, off, off);
  return (
    `Redaction by value, server CPU per event on − off (${what}), by round (pairs in alternating order): ` +
    pairs.rounds
      .map(
        (p, i) =>
          `${on[i]!.toFixed(1)} − ${off[i]!.toFixed(1)} = ${signed(p.us, 1)} µs (${signed(p.pct, 1)} %)`,
      )
      .join("; ") +
    `; median of ${pairs.rounds.length} pairs ${signed(pairs.medianUs, 1)} µs, ${signed(pairs.medianPct, 1)} %.`
  );
}

/**
 * The same difference in the receive threads alone, where the detection runs: the rest of the
 * server (TLS, HTTP, append, fsync, tiles) does the same work on and off, and its noise stays
 * out. As a share of the whole server's CPU per event with detection off.
 */
function receiveThreadCost(
  what: string,
  on: readonly number[],
  off: readonly number[],
  whole: readonly number[],
): string {
  const pairs = pairedCost(on, off, whole);
  return (
    `Redaction by value in the receive threads (${what}), on − off per event, as a share of the whole server's CPU per event off: ` +
    pairs.rounds
      .map(
        (p, i) =>
          `${on[i]!.toFixed(2)} − ${off[i]!.toFixed(2)} = ${signed(p.us, 2)} µs (${signed(p.pct, 1)} %)`,
      )
      .join("; ") +
    `; median of ${pairs.rounds.length} pairs ${signed(pairs.medianUs, 2)} µs, ${signed(pairs.medianPct, 1)} % of serve's CPU per event.`
  );
}

/** `x` with its sign always written: +1.5, -0.3. */
const signed = (x: number, digits: number): string => `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`;

/** Each round's on − off, also as a percentage of `base`, and the medians (nearest rank: the lower middle). */
function pairedCost(on: readonly number[], off: readonly number[], base: readonly number[]) {
  const rounds = on
    .slice(0, off.length)
    .map((us, i) => ({ us: us - off[i]!, pct: (100 * (us - off[i]!)) / base[i]! }));
  return {
    rounds,
    medianUs: percentile(
      rounds.map((p) => p.us),
      50,
    ),
    medianPct: percentile(
      rounds.map((p) => p.pct),
      50,
    ),
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  if (args.options.role === "server") return serveRole(args.options.system as System, args.options.data!);
  const n = intOption(args, "events", args.quick ? 40_000 : 400_000);
  const rate = intOption(args, "rate", 5000);
  const pacedSeconds = intOption(args, "paced-seconds", args.quick ? 6 : 20);
  const concurrency = intOption(args, "concurrency", 8);
  // More events than the pool are the pool again with new auditIDs (see recycled).
  const pool = Math.min(n, intOption(args, "pool", 400_000));
  log(`webhook: generating ${pool} + ${rate * pacedSeconds} events`);
  const load = bodies(1, pool);
  const pacedLoad = bodies(2, rate * pacedSeconds);
  const settleMs = args.quick ? 2_000 : SETTLE_MS;
  const rows: Measurement[] = [];
  const notes: string[] = [];
  const systems: [System, string][] = [
    ["kubetrail", "kubetrail serve (dedupe, fs log, signed checkpoints)"],
    ["kubetrail-novalues", "kubetrail serve, redaction by value off"],
    ["jsonl", "same HTTPS server, JSON lines + fdatasync"],
  ];
  try {
    findPostgresBin();
    systems.push(["postgres", "same HTTPS server, PostgreSQL hash-chain table"]);
  } catch (err) {
    if (!(err instanceof PostgresUnavailable)) throw err;
    log(`webhook: no PostgreSQL row (${err.message})`);
  }
  // --consumers=1: also `serve` with its index feeder and detector running, as shipped.
  if (args.options.consumers === "1")
    systems.splice(
      1,
      0,
      ["kubetrail-full", "kubetrail serve + index + detector"],
      ["kubetrail-full-thread-index", "kubetrail serve + index written on serve's event loop + detector"],
      [
        "kubetrail-full-unbounded",
        "kubetrail serve + index + detector, --index-max-lag 0 (no back-pressure)",
      ],
      ["kubetrail-full-novalues", "kubetrail serve + index + detector, redaction by value off"],
    );
  // --systems=kubetrail,jsonl: only those rows (e.g. to profile one server with --cpu-prof).
  const only = args.options.systems?.split(",");
  const chosen = systems.filter(([s]) => !only || only.includes(s));
  // --rounds=N: every chosen server N times, the order reversed every other round, so on a
  // busy machine neither server always runs first (after a fresh build) or last.
  const rounds = intOption(args, "rounds", 1);
  const serverUs = new Map<
    System,
    { all: number; steady: number; receive: number; steadyReceive: number }[]
  >();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 1 ? [...chosen].reverse() : chosen;
    for (const [system, name] of order) {
      const label = rounds > 1 ? `${name} [round ${round + 1}]` : name;
      const run = await runSystem(system, label, { n, rate, concurrency, load, pacedLoad, settleMs });
      rows.push(...run.rows);
      notes.push(`${system}${rounds > 1 ? ` (round ${round + 1})` : ""}: ${run.note}`);
      const us = {
        all: run.serverUsPerEvent,
        steady: run.steadyUsPerEvent,
        receive: run.receiveUsPerEvent,
        steadyReceive: run.steadyReceiveUsPerEvent,
      };
      serverUs.set(system, [...(serverUs.get(system) ?? []), us]);
    }
  }
  const pairs: [System, System, string][] = [
    ["kubetrail", "kubetrail-novalues", "serve"],
    ["kubetrail-full", "kubetrail-full-novalues", "serve + index + detector"],
  ];
  for (const [onSystem, offSystem, what] of pairs) {
    const on = serverUs.get(onSystem);
    const off = serverUs.get(offSystem);
    if (!on || !off) continue;
    for (const [part, pick] of [
      ["whole sustained run", (u: { all: number }) => u.all],
      ["after its first fifth", (u: { steady: number }) => u.steady],
    ] as const)
      notes.push(valueDetectionCost(`${what}, ${part}`, on.map(pick), off.map(pick)));
    for (const [part, pick, whole] of [
      ["whole sustained run", (u: { receive: number }) => u.receive, (u: { all: number }) => u.all],
      [
        "after its first fifth",
        (u: { steadyReceive: number }) => u.steadyReceive,
        (u: { steady: number }) => u.steady,
      ],
    ] as const)
      notes.push(receiveThreadCost(`${what}, ${part}`, on.map(pick), off.map(pick), off.map(whole)));
  }
  printTable("Webhook ingest over HTTPS (batches of 400 generated events, acked = durable)", rows, {
    unit: "events",
    baseline: rows.find((r) => r.name.startsWith("same HTTPS server"))?.name,
  });
  printNote(
    "Load generator and server are separate processes on the same machine (they share its cores). " +
      "Sustained rows: events acknowledged per second with a fixed number of batches in flight; paced rows: open-loop " +
      `at a fixed event rate, latency from send to ack per batch, starting ${settleMs / 1000} s after the sustained row (steady state, not the catch-up after a burst). ` +
      "The PostgreSQL row inserts each batch into the " +
      "hash-chained table of the append bench (fsync and synchronous_commit on); its server CPU is not in the figures. " +
      notes.join(" "),
  );
}

runIfMain(import.meta.url, main);
