// The open-loop load of bench/guard.ts's webhook section, as a process of its own: request i
// is due at start + i/rate and its latency runs from when it was due (not from when it was
// sent), so a server falling behind cannot hide its queueing.
//
// The generator must not be the tail it measures. In the bench's own process, with node's
// https client, it spent a few hundred µs of CPU per request, opened up to 64 TLS connections
// during the measured run whenever answers bunched up (handshakes on the server's event
// loop too), and its own event loop stalled for tens of ms at times — every stall counted as
// the server's latency. Here every connection is opened and used before the clock starts;
// requests are serialized ahead and answers read only as far as their status line, length and
// decision, so its cost per request stays small. Each connection carries one request at a
// time (HTTP/1.1 keep-alive, as the apiserver's webhook client does); a request due while every
// connection is busy waits for one, and that wait counts.
//
//   node build/bench/lib/admission-load.js CONFIG.json
//     → a line "measuring" when the measured run starts, then one JSON line (AdmissionLoadResult)
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { TLSSocket } from "node:tls";
import { runIfMain } from "../harness.js";
import { AnswerReader, connect } from "./https-load.js";

export interface AdmissionLoadConfig {
  port: number;
  /** PEM of the CA of the server's certificate (issued for "localhost"). */
  ca: string;
  token: string;
  path: string;
  /** AdmissionReview bodies, each with one "@UID@" replaced by the request's own uid. */
  bodies: string[];
  rate: number;
  /** Paced like the measured run, not measured: JIT, page cache, the server's first commits. */
  warmupSeconds: number;
  seconds: number;
  connections: number;
}

export interface AdmissionLoadResult {
  /** Of the measured run, from each request's due time to its answer's last byte. */
  latenciesMs: number[];
  sent: number;
  errors: number;
  achievedRate: number;
  /** The answers' `decision` audit annotations, counted. */
  decisions: Record<string, number>;
  /** This process during the measured run: CPU per request, and its event loop's worst delay. */
  generatorCpuUsPerRequest: number;
  generatorMaxDelayMs: number;
}

const DECISION = /"decision":"([a-z]+)"/;

function requestFor(cfg: AdmissionLoadConfig, i: number): Buffer {
  const body = Buffer.from(cfg.bodies[i % cfg.bodies.length]!.replace("@UID@", `uid-${i}`), "utf8");
  const head =
    `POST ${cfg.path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${cfg.token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

interface Connection {
  socket: TLSSocket;
  reader: AnswerReader;
}

/** Paces `total` requests from index `first` at cfg.rate; resolves when all are answered. */
function paced(
  cfg: AdmissionLoadConfig,
  free: Connection[],
  first: number,
  total: number,
  onAnswer: (latencyMs: number, status: number, body: Buffer) => void,
): Promise<number> {
  const requests = Array.from({ length: total }, (_, k) => requestFor(cfg, first + k));
  const start = performance.now();
  const waiting: number[] = [];
  let sent = 0;
  let done = 0;
  return new Promise((finish, fail) => {
    const send = (conn: Connection, k: number): void => {
      const due = start + (k * 1000) / cfg.rate;
      const answered = conn.reader.next();
      conn.socket.write(requests[k]!);
      answered.then((status) => {
        onAnswer(performance.now() - due, status, conn.reader.body);
        const next = waiting.shift();
        if (next === undefined) free.push(conn);
        else send(conn, next);
        if (++done === total) finish((performance.now() - start) / 1000);
      }, fail);
    };
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * cfg.rate) / 1000) + 1);
      while (sent < due) {
        const conn = free.pop();
        if (conn === undefined) waiting.push(sent++);
        else send(conn, sent++);
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / cfg.rate - performance.now()));
    };
    tick();
  });
}

export async function runAdmissionLoad(
  cfg: AdmissionLoadConfig,
  onMeasuring: () => void,
): Promise<AdmissionLoadResult> {
  const sockets = await Promise.all(Array.from({ length: cfg.connections }, () => connect(cfg)));
  const free: Connection[] = sockets.map((socket) => ({ socket, reader: new AnswerReader(socket) }));
  // Every connection answers once before the clock starts, so no handshake falls in the run.
  const warm = free.splice(0);
  await Promise.all(
    warm.map(async (conn, i) => {
      const answered = conn.reader.next();
      conn.socket.write(requestFor(cfg, i));
      if ((await answered) !== 200) throw new Error(`warm-up request answered ${await answered}`);
      free.push(conn);
    }),
  );
  const warmup = Math.round(cfg.rate * cfg.warmupSeconds);
  await paced(cfg, free, cfg.connections, warmup, () => undefined);
  const total = Math.round(cfg.rate * cfg.seconds);
  const result: AdmissionLoadResult = {
    latenciesMs: [],
    sent: total,
    errors: 0,
    achievedRate: 0,
    decisions: {},
    generatorCpuUsPerRequest: 0,
    generatorMaxDelayMs: 0,
  };
  onMeasuring();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const wallS = await paced(cfg, free, cfg.connections + warmup, total, (ms, status, body) => {
    result.latenciesMs.push(ms);
    if (status !== 200) {
      result.errors++;
      return;
    }
    const d = DECISION.exec(body.toString("latin1"))?.[1] ?? "?";
    result.decisions[d] = (result.decisions[d] ?? 0) + 1;
  });
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  result.achievedRate = total / wallS;
  result.generatorCpuUsPerRequest = (cpu.user + cpu.system) / total;
  result.generatorMaxDelayMs = delay.max / 1e6;
  for (const s of sockets) s.destroy();
  return result;
}

runIfMain(import.meta.url, async ([file]) => {
  if (!file) throw new Error("usage: admission-load CONFIG.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as AdmissionLoadConfig;
  const result = await runAdmissionLoad(cfg, () => process.stdout.write("measuring\n"));
  process.stdout.write(JSON.stringify(result) + "\n");
});
