// A real `kubetrail serve` (the built CLI as a child process) on a fresh data directory, for the
// UI tests and the UI bench.
import { startServeOn, type ServeProcess } from "../fixtures/audit/serve-process.js";

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
  const { serve, ca, readToken, ingestToken } = await startServeOn(dataDir, [
    "--integrate-interval",
    "200ms",
    ...extra,
  ]);
  return {
    serve,
    port: serve.port,
    url: `https://localhost:${serve.port}`,
    dataDir,
    readToken,
    ingestToken,
    ca,
    stop: async () => {
      await serve.stop();
    },
  };
}
