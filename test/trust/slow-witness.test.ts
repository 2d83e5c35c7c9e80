// A witness that never answers (it takes the connection and hangs) must not hold up ingest:
// `serve --cosigners` starts and acknowledges webhook batches as without witnesses; only the
// published checkpoint waits, for maxWait at most.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { cosignerKey } from "../fixtures/cosigner-process.js";
import { postEvents, requireBuiltCli, startServe, type Serve } from "../faults/serve-process.js";

const SEED = Number(process.env["TEST_SEED"] ?? Date.now() % 1_000_000);
/** How long the hung witness keeps each request: far beyond any acknowledgement allowed here. */
const WITNESS_TIMEOUT_S = 30;

describe("a hung witness", () => {
  let dir = "";
  let hung: net.Server;
  const sockets = new Set<net.Socket>();
  let serve: Serve | undefined;
  let startMs = 0;

  beforeAll(async () => {
    requireBuiltCli();
    console.log(`slow witness seed ${SEED} (TEST_SEED=${SEED} to repeat)`);
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-slow-witness-"));
    // Accepts connections and says nothing, not even the TLS handshake.
    hung = net.createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const port = (hung.address() as net.AddressInfo).port;
    const key = await cosignerKey("witness", path.join(dir, "witness"), "hung.test/w");
    const cosigners = path.join(dir, "cosigners.yaml");
    writeFileSync(
      cosigners,
      [
        "witnesses:",
        `  - {url: "https://127.0.0.1:${port}/", key: "${key}"}`,
        "failMode: open",
        `timeout: ${WITNESS_TIMEOUT_S}s`,
        "retries: 0",
        `maxWait: ${WITNESS_TIMEOUT_S}s`,
      ].join("\n") + "\n",
    );
    const t = Date.now();
    serve = await startServe(path.join(dir, "log"), ["--cosigners", cosigners, "--no-detect"]);
    startMs = Date.now() - t;
  });

  afterAll(async () => {
    await serve?.kill("SIGKILL");
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hung?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not hold up serve's start (opening a new log signs its first checkpoint)", () => {
    expect(startMs).toBeLessThan(WITNESS_TIMEOUT_S * 1000 - 10_000);
  });

  it("does not delay acknowledgements of webhook batches", async () => {
    // Longer than serve's index lag bound (--index-max-lag, 2 s by default): entries wait for a
    // checkpoint while the witness holds it, and that wait must not count against the index.
    const waits: number[] = [];
    for (let i = 0; i < 14; i++) {
      const body = JSON.stringify(toEventList([...generateEvents({ seed: SEED + i, count: 50 })]));
      const t = Date.now();
      const r = await postEvents(serve!, body);
      waits.push(Date.now() - t);
      expect(r.status, r.body).toBe(200);
      // Spread over many checkpoints (every 200 ms), each of which waits for the witness.
      await new Promise((res) => setTimeout(res, 400));
    }
    // The witness holds every checkpoint for 30 s; each batch was acknowledged as without it.
    expect(Math.max(...waits), `acknowledgement times ${waits.join(", ")} ms`).toBeLessThan(1000);
    expect(sockets.size).toBeGreaterThan(0);
  });
});
