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

  constructor(private readonly fd: number) {}

  /** Writes one line; returns the error instead of throwing, after counting the line as dropped. */
  writeLine(line: string): Error | undefined {
    const data = Buffer.from(this.torn ? `\n${line}` : line, "utf8");
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
        this.dropped++;
        this.lastError = code ?? (err as Error).message;
        // Bytes of the line that did get out need ending; while nothing got out, a newline
        // still owed from before stays owed.
        this.torn = off > 0 || this.torn;
        return err as Error;
      }
    }
    this.torn = false;
    return undefined;
  }

  /** The Writable-like face the stdout alert sink uses: the callback gets the error. */
  write(chunk: string, callback?: (err?: Error | null) => void): boolean {
    const err = this.writeLine(chunk);
    callback?.(err ?? null);
    return true;
  }
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

/** serve's logger: pino records to `output`, as JSON lines or readable text. */
export function createLogger(opts: { level: string; format: LogFormat; output: LineOutput }): Logger {
  const { output, format } = opts;
  const destination = {
    write(line: string): void {
      output.writeLine(format === "text" ? formatText(line) : line);
    },
  };
  return pino({ level: opts.level, base: { service: "kubetrail" } }, destination);
}
