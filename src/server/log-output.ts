// Where `serve` writes its log lines (and stdout alerts): a file descriptor, written
// synchronously line by line, that never throws and never emits. A line the descriptor cannot
// take (a full disk under a redirected stdout, a closed pipe) is dropped and counted, and the
// next line is tried again: logging must never stop the server, and a disk that frees up gets
// lines again. Pino's own destination (sonic-boom) emits "error" instead, which kills the
// process when nothing listens.
//
// Lines are JSON (what log shippers read) or, for a person at a terminal, one readable line:
// `2025-01-02T03:04:05.678Z INFO  listening address=127.0.0.1:8443`.
import { writeSync } from "node:fs";
import { pino, type Logger } from "pino";
import { ConfigError } from "./config.js";

export type LogFormat = "json" | "text";

/** `auto` is text on a terminal and JSON anywhere else (files, pipes, log collectors). */
export function resolveLogFormat(flag: string, isTty: boolean): LogFormat {
  if (flag === "auto") return isTty ? "text" : "json";
  if (flag === "json" || flag === "text") return flag;
  throw new ConfigError(`--log-format: ${JSON.stringify(flag)} is not one of auto, json, text`);
}

/** How long one line may wait for a full pipe (EAGAIN) before it is dropped. */
const EAGAIN_WAIT_MS = 1000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A line sink over a file descriptor; see the file comment. */
export class LineOutput {
  /** Lines (log records or alerts) that could not be written. */
  dropped = 0;
  /** The last write error, by code (ENOSPC, EPIPE, …), for the operator once lines get through. */
  lastError: string | undefined;

  /** A line was cut short by a failed write: the next one starts on a line of its own. */
  private torn = false;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Callbacks of lines still pending, with the place of their line among them. */
  private callbacks: { line: number; callback: (err?: Error | null) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly onExit = (): void => this.flush();

  /**
   * With `flushMs`, lines are collected for up to that long and written together: a line per
   * request (serve's access log) would otherwise cost a system call per request, a wake-up of
   * whoever reads the pipe included. Lines still waiting are written when the process exits,
   * and at once when they reach FLUSH_BYTES.
   */
  constructor(
    private readonly fd: number,
    private readonly opts: { flushMs?: number } = {},
  ) {
    if (opts.flushMs !== undefined) process.on("exit", this.onExit);
  }

  /**
   * Writes one line (or queues it, see the constructor); returns the error of an immediate
   * write instead of throwing, after counting the line as dropped.
   */
  writeLine(line: string): Error | undefined {
    if (this.opts.flushMs === undefined) return this.writeLines([line]).err;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs).unref();
    return undefined;
  }

  /** The Writable-like face the stdout alert sink uses: the callback gets the error. */
  write(chunk: string, callback?: (err?: Error | null) => void): boolean {
    if (this.opts.flushMs === undefined) {
      const err = this.writeLine(chunk);
      callback?.(err ?? null);
    } else {
      if (callback) this.callbacks.push({ line: this.pending.length, callback });
      this.writeLine(chunk);
    }
    return true;
  }

  /** Writes the lines collected so far. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    const callbacks = this.callbacks;
    this.pending = [];
    this.pendingBytes = 0;
    this.callbacks = [];
    const { err, written } = this.writeLines(lines);
    for (const { line, callback } of callbacks) callback(line < written ? null : err);
  }

  /** Writes what is pending and stops writing at exit (the descriptor is the caller's to close). */
  close(): void {
    this.flush();
    process.off("exit", this.onExit);
  }

  /**
   * Writes whole lines in one go; on a failure the lines not wholly written are dropped and
   * counted. Returns the error and how many lines were written.
   */
  private writeLines(lines: string[]): { err?: Error; written: number } {
    const head = this.torn ? "\n" : "";
    const data = Buffer.from(head + lines.join(""), "utf8");
    let off = 0;
    let waited = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off, data.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" && waited < EAGAIN_WAIT_MS) {
          sleepSync(5);
          waited += 5;
          continue;
        }
        // Lines wholly out, and whether the write stopped inside a line.
        let end = head.length;
        let written = 0;
        while (written < lines.length && end + Buffer.byteLength(lines[written]!) <= off) {
          end += Buffer.byteLength(lines[written]!);
          written++;
        }
        this.dropped += lines.length - written;
        this.lastError = code ?? (err as Error).message;
        // While nothing got out, a newline still owed from before stays owed.
        this.torn = off === 0 ? this.torn : off !== end;
        return { err: err as Error, written };
      }
    }
    this.torn = false;
    return { written: lines.length };
  }
}

/** Collected lines written at once when they reach this many characters. */
const FLUSH_BYTES = 64 * 1024;

/**
 * A server's stdout (serve, witness, mirror): lines written together every 50 ms and at exit,
 * since a line per request would otherwise be a system call per request.
 */
export function stdoutLines(): LineOutput {
  return new LineOutput(1, { flushMs: 50 });
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
/** Pino's own fields, shown in their place on a text line rather than as key=value. */
const OWN_FIELDS = new Set(["level", "time", "msg", "pid", "hostname", "service"]);

function textValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON record as a line for a person. */
export function formatText(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : json + "\n";
  }
  const time = typeof rec["time"] === "number" ? new Date(rec["time"]).toISOString() : "";
  const level = LEVEL_NAMES[rec["level"] as number] ?? String(rec["level"]);
  const fields = Object.entries(rec)
    .filter(([k]) => !OWN_FIELDS.has(k))
    .map(([k, v]) => `${k}=${textValue(v)}`);
  return [time, level, String(rec["msg"] ?? ""), ...fields].join(" ").trimEnd() + "\n";
}

/**
 * A server's logger (serve, witness, mirror): pino records to `output`, as JSON lines or readable
 * text, each with `service` (default "kubetrail").
 */
export function createLogger(opts: {
  level: string;
  format: LogFormat;
  output: LineOutput;
  service?: string;
}): Logger {
  const { output, format } = opts;
  const destination = {
    write(line: string): void {
      output.writeLine(format === "text" ? formatText(line) : line);
    },
  };
  return pino({ level: opts.level, base: { service: opts.service ?? "kubetrail" } }, destination);
}
