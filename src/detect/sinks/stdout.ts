// Alerts as JSON lines on a stream (stdout by default), for log shippers and pipes.
import type { Writable } from "node:stream";
import type { AlertSink, RecordedAlert } from "../types.js";

export function stdoutSink(out: Writable = process.stdout): AlertSink {
  return {
    name: "stdout",
    send: (alert: RecordedAlert) =>
      new Promise<void>((resolve, reject) => {
        out.write(`${JSON.stringify(alert)}\n`, (err) => (err ? reject(err) : resolve()));
      }),
  };
}
