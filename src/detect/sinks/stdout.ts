// Alerts as JSON lines on a stream (stdout by default), for log shippers and pipes.
import type { AlertSink, RecordedAlert } from "../types.js";

/** What the sink writes to: process.stdout, or serve's output that survives a full disk. */
export interface StdoutTarget {
  write(chunk: string, callback: (err?: Error | null) => void): boolean;
}

export function stdoutSink(out: StdoutTarget = process.stdout): AlertSink {
  return {
    name: "stdout",
    send: (alert: RecordedAlert) =>
      new Promise<void>((resolve, reject) => {
        out.write(`${JSON.stringify(alert)}\n`, (err) => (err ? reject(err) : resolve()));
      }),
  };
}
