// A lean HTTPS load generator, run as its own process so that its CPU is counted apart from
// the server it loads (and not spent on the same event loop as the bench's bookkeeping).
// Each connection is a kept-alive TLS socket sending its requests one after another, as a log
// talks to a witness; requests are serialized once beforehand and answers parsed only as far
// as the status line and Content-Length, so the client's cost per request stays small beside
// the server's.
//
//   node build/bench/lib/https-load.js CONFIG.json   → one JSON line on stdout (LoadResult)
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { runIfMain, taskCpuSeconds, treeCpuSeconds } from "../harness.js";

export interface LoadConfig {
  port: number;
  /** PEM of the CA of the server's certificate (issued for "localhost"). */
  ca: string;
  seconds: number;
  method: string;
  path: string;
  connections: number;
  /** Per connection, the bodies to send in order; a connection stops when it has sent all. Absent: no body. */
  bodies?: string[][];
  /** Start the bodies again from the first once all were sent (a server that keeps no state). */
  cycle?: boolean;
  /**
   * Send for this long first, counting nothing (the server's code compiled, its caches filled):
   * the figures are the steady state after it. The connections carry on with the next bodies.
   */
  warmupSeconds?: number;
  /** The server's process: its CPU in the timed window (after the warm-up) is reported. */
  serverPid?: number;
}

export interface LoadResult {
  ok: number;
  failed: number;
  /** Status codes other than 200, with their counts. */
  statuses: Record<string, number>;
  latenciesMs: number[];
  wallS: number;
  /** This process's CPU (user + system) during the timed window. */
  cpuS: number;
  /** Requests sent during the warm-up (not counted above) and how many of them were not 200. */
  warmup: { requests: number; failed: number };
  /** The server's CPU during the timed window: all its threads, and its main thread alone. */
  server?: { cpuS: number; mainCpuS: number };
}

const HEADER_END = Buffer.from("\r\n\r\n");

function requestBytes(cfg: LoadConfig, body: string | undefined): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body, "utf8");
  const head =
    `${cfg.method} ${cfg.path} HTTP/1.1\r\nHost: localhost\r\n` +
    (body === undefined ? "" : `Content-Type: text/plain\r\nContent-Length: ${payload.length}\r\n`) +
    "\r\n";
  return Buffer.concat([Buffer.from(head, "latin1"), payload]);
}

/** Reads answers off one socket: resolves each with its status once its body has arrived. */
export class AnswerReader {
  private buf: Buffer = Buffer.alloc(0);
  /** The body of the answer last resolved. */
  body: Buffer = Buffer.alloc(0);
  private waiting: ((status: number) => void) | null = null;
  private failing: ((err: Error) => void) | null = null;

  constructor(socket: tls.TLSSocket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    const fail = (err: Error): void => this.failing?.(err);
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the server closed the connection")));
  }

  next(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failing = reject;
      this.parse();
    });
  }

  private parse(): void {
    if (!this.waiting) return;
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.buf.toString("latin1", 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.failing?.(new Error(`an answer without Content-Length: ${head.split("\r\n", 1)[0]}`));
      return;
    }
    const total = end + HEADER_END.length + Number(m[1]);
    if (this.buf.length < total) return;
    this.body = this.buf.subarray(end + HEADER_END.length, total);
    this.buf = this.buf.subarray(total);
    const done = this.waiting;
    this.waiting = null;
    this.failing = null;
    done(status);
  }
}

/** A TLS connection to the server of `cfg`, Nagle off. */
export function connect(cfg: Pick<LoadConfig, "port" | "ca">): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port: cfg.port, ca: cfg.ca, servername: "localhost" },
      () => resolve(socket),
    );
    socket.setNoDelay(true);
    socket.once("error", reject);
  });
}

export async function runLoad(cfg: LoadConfig): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: cfg.connections }, () => connect(cfg)));
  const requests = Array.from({ length: cfg.connections }, (_, c) =>
    cfg.bodies ? cfg.bodies[c]!.map((b) => requestBytes(cfg, b)) : [requestBytes(cfg, undefined)],
  );
  const readers = sockets.map((s) => new AnswerReader(s));
  /** Per connection, the index of the next body: the timed window carries on from the warm-up. */
  const next = sockets.map(() => 0);
  const result: LoadResult = {
    ok: 0,
    failed: 0,
    statuses: {},
    latenciesMs: [],
    wallS: 0,
    cpuS: 0,
    warmup: { requests: 0, failed: 0 },
  };
  const send = (seconds: number, timed: boolean): Promise<unknown> => {
    const until = performance.now() + seconds * 1000;
    return Promise.all(
      sockets.map(async (socket, c) => {
        const mine = requests[c]!;
        while (performance.now() < until) {
          const k = next[c]!;
          const req = mine[cfg.cycle || !cfg.bodies ? k % mine.length : k];
          if (req === undefined) break;
          next[c] = k + 1;
          const sent = performance.now();
          const answered = readers[c]!.next();
          socket.write(req);
          const status = await answered;
          if (!timed) {
            result.warmup.requests++;
            if (status !== 200) result.warmup.failed++;
            continue;
          }
          result.latenciesMs.push(performance.now() - sent);
          if (status === 200) result.ok++;
          else {
            result.failed++;
            result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          }
        }
      }),
    );
  };
  if (cfg.warmupSeconds) await send(cfg.warmupSeconds, false);
  const pid = cfg.serverPid;
  const server0 = pid === undefined ? null : { all: treeCpuSeconds(pid), main: taskCpuSeconds(pid, pid) };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await send(cfg.seconds, true);
  result.wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  result.cpuS = (cpu.user + cpu.system) / 1e6;
  if (pid !== undefined && server0)
    result.server = {
      cpuS: treeCpuSeconds(pid) - server0.all,
      mainCpuS: taskCpuSeconds(pid, pid) - server0.main,
    };
  for (const s of sockets) s.destroy();
  return result;
}

runIfMain(import.meta.url, async ([file]) => {
  if (!file) throw new Error("usage: https-load CONFIG.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as LoadConfig;
  process.stdout.write(JSON.stringify(await runLoad(cfg)) + "\n");
});
