// A real `kubetrail serve` (the built CLI as a child process) on a fresh data directory, for the
// UI tests and the UI bench.
import { readFileSync } from "node:fs";
import path from "node:path";
import { startServe, type ServeProcess } from "../fixtures/audit/serve-process.js";

export interface UiServer {
  serve: ServeProcess;
  port: number;
  url: string;
  dataDir: string;
  readToken: string;
  ingestToken: string;
  ca: string;
  stop(): Promise<void>;
}

export async function startUiServer(dataDir: string, extra: string[] = []): Promise<UiServer> {
  const serve = await startServe([
    "--data",
    dataDir,
    "--listen",
    "127.0.0.1:0",
    "--integrate-interval",
    "200ms",
    ...extra,
  ]);
  const read = (name: string): string => readFileSync(path.join(dataDir, name), "utf8").trim();
  return {
    serve,
    port: serve.port,
    url: `https://localhost:${serve.port}`,
    dataDir,
    readToken: read("read-token"),
    ingestToken: read("ingest-token"),
    ca: readFileSync(path.join(dataDir, "tls", "ca.crt"), "utf8"),
    stop: async () => {
      await serve.stop();
    },
  };
}
