// A real `kubetrail serve` child process over HTTPS (its self-signed CA pinned), plus the client
// calls and log reads the reliability tests share. Needs `npm run build` (dist/cli/main.js).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request, type Reply } from "../fixtures/audit/request.js";
import os from "node:os";
import path from "node:path";
import { KUBETRAIL_API_VERSION } from "../../src/audit/types.js";
import { openFsLog } from "../../src/store/fs/storage.js";
import { CLI, runCli } from "../fixtures/cli.js";

export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build before the fault tests`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `kubetrail-faults-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Serve {
  url: string;
  dataDir: string;
  ca: Buffer;
  ingestToken: string;
  readToken: string;
  proc: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** Everything the process printed, for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

/** The flags a reader of serve's log gives: its pinned key, the serving CA and a read token of DATA. */
export function readerFlags(dataDir: string, key: string): string[] {
  return ["--key", key, ...readerTlsFlags(dataDir)];
}

/** The CA and read token of serve in `dataDir`, as a reader's CLI flags. */
export function readerTlsFlags(dataDir: string): string[] {
  return ["--ca", path.join(dataDir, "tls", "ca.crt"), "--token-file", path.join(dataDir, "read-token")];
}

export interface StartServeOptions {
  /**
   * The CA of the serving certificate given with --tls-cert; default: the one serve generates
   * into DATA/tls/.
   */
  ca?: Buffer;
  /** host:port to listen on; default: a free loopback port. */
  listen?: string;
}

/** Starts `kubetrail serve` on a free port and waits until it reports ready. */
export async function startServe(
  dataDir: string,
  extraArgs: string[] = [],
  opts: StartServeOptions = {},
): Promise<Serve> {
  requireBuiltCli();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "serve",
      "--data",
      dataDir,
      "--listen",
      opts.listen ?? "127.0.0.1:0",
      "--integrate-interval",
      "200ms",
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let address: string | undefined;
  let ready = false;
  const exited = new Promise<number | string>((resolve) =>
    proc.on("exit", (code, sig) => resolve(code ?? sig ?? -1)),
  );
  const lineWaiters: (() => void)[] = [];
  const onLine = (line: string): void => {
    try {
      const rec = JSON.parse(line) as { msg?: string; address?: string };
      if (rec.msg === "listening" && typeof rec.address === "string") address = rec.address;
      if (rec.msg === "ready") ready = true;
    } catch {
      // not a log record
    }
    lineWaiters.splice(0).forEach((w) => w());
  };
  let partial = "";
  proc.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    partial += s;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    lines.forEach(onLine);
  });
  proc.stderr?.setEncoding("utf8").on("data", (s: string) => (out += s));
  const deadline = Date.now() + 60_000;
  while (!ready) {
    const stillRunning = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        lineWaiters.push(() => r(true));
        setTimeout(() => r(true), 500);
      }),
    ]);
    if (!stillRunning) throw new Error(`kubetrail serve exited before ready:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`kubetrail serve not ready within 60 s:\n${out}`);
    }
  }
  if (address === undefined) throw new Error(`kubetrail serve never logged its address:\n${out}`);
  const serve: Serve = {
    url: `https://${address}`,
    dataDir,
    ca: opts.ca ?? readFileSync(path.join(dataDir, "tls", "ca.crt")),
    // With --client-ca and no --token-file, serve generates no ingest token.
    ingestToken: existsSync(path.join(dataDir, "ingest-token"))
      ? readFileSync(path.join(dataDir, "ingest-token"), "utf8").trim()
      : "",
    readToken: readFileSync(path.join(dataDir, "read-token"), "utf8").trim(),
    proc,
    exited,
    output: () => out,
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  // "ready" is logged a moment before serve installs its SIGTERM handler; one round trip on
  // /readyz lets that finish, so a test's SIGTERM means an orderly shutdown.
  const r = await call(serve, { path: "/readyz" });
  if (r.status !== 200) throw new Error(`/readyz answered ${r.status} after "ready":\n${out}`);
  return serve;
}

export interface CallOptions {
  method?: string;
  path: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
  /** Bearer token; omit for none. */
  token?: string;
  timeoutMs?: number;
}

/** One HTTPS request on a fresh connection; rejects on a network error (reset, refused, timeout). */
export function call(serve: Pick<Serve, "url" | "ca">, o: CallOptions): Promise<Reply> {
  return request(Number(new URL(serve.url).port), {
    method: o.method ?? (o.body === undefined ? "GET" : "POST"),
    path: o.path,
    body: o.body,
    ca: serve.ca,
    timeoutMs: o.timeoutMs ?? 30_000,
    headers: {
      ...(o.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...(o.token !== undefined ? { Authorization: `Bearer ${o.token}` } : {}),
      ...o.headers,
    },
  });
}

/** POSTs an EventList to the webhook with the ingest token. */
export function postEvents(
  serve: Serve,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return call(serve, { path: "/v1/audit/webhook", body, token: serve.ingestToken, headers });
}

export interface StoredEvent {
  index: number;
  /** False for kubetrail's own records (alerts, decisions), which may name an event's auditID. */
  isAuditEvent: boolean;
  auditID?: string;
  stage?: string;
  bytes: Uint8Array;
}

/** Every entry of the (stopped) log in dataDir, with the audit keys of events. */
export async function readLog(dataDir: string): Promise<StoredEvent[]> {
  const log = await openFsLog(dataDir);
  try {
    const out: StoredEvent[] = [];
    for await (const e of log.readEntries(0, log.size())) {
      const obj = JSON.parse(Buffer.from(e.data!).toString("utf8")) as {
        apiVersion?: string;
        auditID?: string;
        stage?: string;
      };
      const isAuditEvent = obj.apiVersion !== KUBETRAIL_API_VERSION && obj.auditID !== undefined;
      out.push({ index: e.index, isAuditEvent, auditID: obj.auditID, stage: obj.stage, bytes: e.data! });
    }
    return out;
  } finally {
    await log.close();
  }
}

export interface VerifyResult {
  code: number;
  report: { ok?: boolean; entries?: number; problems?: { code: string; message: string }[] };
  stderr: string;
}

/** `kubetrail verify --data dir -o json` as a child process. */
export async function runVerify(dataDir: string, extra: string[] = []): Promise<VerifyResult> {
  const { code, stdout, stderr } = await runCli(["verify", "--data", dataDir, "-o", "json", ...extra]);
  let report: VerifyResult["report"] = {};
  try {
    report = JSON.parse(stdout) as VerifyResult["report"];
  } catch {
    report = {};
  }
  return { code, report, stderr };
}

/** Peak and current RSS of a process in MB, from /proc. */
/**
 * Resets the process's peak RSS to what it uses now (Linux clear_refs 5), so a later rssOf's
 * peak is what happened since; returns that RSS in MiB.
 */
export function resetPeak(pid: number): number {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  return rssOf(pid).nowMB;
}

export function rssOf(pid: number): { peakMB: number; nowMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { peakMB: kb("VmHWM") / 1024, nowMB: kb("VmRSS") / 1024 };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
