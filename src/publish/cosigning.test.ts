// serve's cosigning step against two real witnesses (in this process, plain HTTP on loopback):
// a required one and an optional one. The optional witness is asked and its cosignature
// carried, but never counted toward the quorum: with the required witness down and failMode
// closed, nothing new is published however many optional cosignatures there are. And beside a
// witness that takes the connection and never answers, only one checkpoint waits for it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import { NoteVerifier, openCheckpoint, CosignatureVerifier, generateCosignatureKey } from "../tlog/index.js";
import { runWitness, type RunningWitness } from "../witness/run-witness.js";
import { loadCosignersConfig } from "./cosigners-config.js";
import { Cosigning } from "./cosigning.js";
import { HttpClient } from "./http-client.js";

/**
 * A Cosigning for `log` with these witnesses (YAML flow maps) and settings (cosigners.yaml's
 * top-level keys), started at the log's current checkpoint.
 */
async function startCosigning(
  dir: string,
  log: SignedLog,
  http: HttpClient,
  config: { witnesses: string[]; settings: Record<string, string> },
): Promise<Cosigning> {
  const file = path.join(dir, "cosigners.yaml");
  const lines = [
    "witnesses:",
    ...config.witnesses.map((w) => `  - ${w}`),
    ...Object.entries(config.settings).map(([k, v]) => `${k}: ${v}`),
  ];
  writeFileSync(file, lines.join("\n") + "\n");
  const cosigning = new Cosigning({
    config: await loadCosignersConfig(file),
    prove: async (from, to) => log.proof(from, to),
    mirrorSource: {
      proveSubtree: () => Promise.reject(new Error("no mirrors here")),
      entries: () => Promise.reject(new Error("no mirrors here")),
    },
    http,
    publishedFile: path.join(dir, "published-checkpoint"),
    retryIntervalMs: 60_000,
  });
  log.append(3);
  const first = await log.checkpoint();
  const cp = openCheckpoint(first, NoteVerifier.fromKey(log.verifierKey));
  await cosigning.start([NoteVerifier.fromKey(log.verifierKey)], { ...cp, note: first });
  return cosigning;
}

/** The log grows by `n`; its checkpoint goes through the cosigning step and is written. */
async function publishGrown(log: SignedLog, cosigning: Cosigning, n: number): Promise<string> {
  log.append(n);
  const signed = await log.checkpoint();
  const cp = openCheckpoint(signed, NoteVerifier.fromKey(log.verifierKey));
  const note = await cosigning.cosign(signed, cp);
  cosigning.written({ origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note });
  return note;
}

describe("Cosigning with a required and an optional witness", () => {
  let dir = "";
  const log = new SignedLog("cosigning.test/log");
  const witnesses: RunningWitness[] = [];
  let cosigning: Cosigning;
  let http: HttpClient;
  const keys: string[] = [];

  const publish = (n: number): Promise<string> => publishGrown(log, cosigning, n);
  const names = (note: string): string[] =>
    openCheckpoint(note, [
      NoteVerifier.fromKey(log.verifierKey),
      ...keys.map((k) => CosignatureVerifier.fromKey(k)),
    ])
      .cosignatures.map((c) => c.name)
      .sort();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-cosigning-"));
    writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${log.verifierKey}\n`);
    const logger = pino({ level: "silent" });
    for (const name of ["required", "optional"]) {
      const w = await runWitness(
        {
          dataDir: path.join(dir, name),
          logsFile: path.join(dir, "logs.yaml"),
          name: `${name}.cosigning.test/w`,
          listen: { host: "127.0.0.1", port: 0 },
          insecureHttp: true,
        },
        logger,
      );
      witnesses.push(w);
      keys.push(w.verifierKey);
    }
    http = new HttpClient();
    cosigning = await startCosigning(dir, log, http, {
      witnesses: [
        `{url: "http://127.0.0.1:${witnesses[0]!.server.port}/", key: "${keys[0]}"}`,
        `{url: "http://127.0.0.1:${witnesses[1]!.server.port}/", key: "${keys[1]}", optional: true}`,
      ],
      settings: { quorum: "1", failMode: "closed", timeout: "2s", retries: "0", maxWait: "2s" },
    });
  });

  afterAll(async () => {
    await cosigning?.close();
    http?.close();
    for (const w of witnesses) await w.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("counts only the required witness toward the quorum, and carries both cosignatures", async () => {
    expect(cosigning.policy.witnesses.map((w) => w.name)).toEqual(["required.cosigning.test/w"]);
    const note = await publish(5);
    expect(names(note)).toEqual(["optional.cosigning.test/w", "required.cosigning.test/w"]);
    expect(cosigning.publishedSize()).toBe(log.size);
    expect(names(cosigning.published()!)).toEqual(names(note));
    expect(cosigning.publishedWitnesses()).toBe(1);
  });

  it("fail-closed: the optional witness alone does not get a checkpoint published", async () => {
    const before = cosigning.publishedSize();
    await witnesses[0]!.shutdown();
    const note = await publish(4);
    expect(names(note)).toEqual(["optional.cosigning.test/w"]);
    expect(cosigning.publishedSize()).toBe(before);
    expect(openCheckpoint(cosigning.published()!, NoteVerifier.fromKey(log.verifierKey)).size).toBe(before);
  });
});

describe("Cosigning beside a hung witness", () => {
  const MAX_WAIT_MS = 1000;
  let dir = "";
  const log = new SignedLog("cosigning.test/hung");
  let witness: RunningWitness;
  let hung: net.Server;
  const sockets = new Set<net.Socket>();
  let cosigning: Cosigning;
  let http: HttpClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-cosigning-hung-"));
    writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${log.verifierKey}\n`);
    witness = await runWitness(
      {
        dataDir: path.join(dir, "witness"),
        logsFile: path.join(dir, "logs.yaml"),
        name: "answering.cosigning.test/w",
        listen: { host: "127.0.0.1", port: 0 },
        insecureHttp: true,
      },
      pino({ level: "silent" }),
    );
    // Takes connections and never answers.
    hung = net.createServer((s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const hungPort = (hung.address() as net.AddressInfo).port;
    http = new HttpClient();
    cosigning = await startCosigning(dir, log, http, {
      witnesses: [
        `{url: "http://127.0.0.1:${witness.server.port}/", key: "${witness.verifierKey}"}`,
        `{url: "http://127.0.0.1:${hungPort}/", key: "${generateCosignatureKey("hung.cosigning.test/w").verifierKey}"}`,
      ],
      settings: { quorum: "1", failMode: "open", timeout: "30s", retries: "0", maxWait: `${MAX_WAIT_MS}ms` },
    });
  });

  afterAll(async () => {
    await cosigning?.close();
    http?.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => hung?.close(resolve));
    await witness?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds one checkpoint for maxWait, not every one while the witness's request hangs", async () => {
    const took: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t = performance.now();
      const note = await publishGrown(log, cosigning, 2);
      took.push(performance.now() - t);
      expect(
        openCheckpoint(note, [
          NoteVerifier.fromKey(log.verifierKey),
          CosignatureVerifier.fromKey(witness.verifierKey),
        ]).cosignatures.map((c) => c.name),
      ).toEqual(["answering.cosigning.test/w"]);
    }
    const shown = took.map((ms) => ms.toFixed(0)).join(", ");
    expect(took[0], `publishing took ${shown} ms`).toBeGreaterThanOrEqual(MAX_WAIT_MS - 50);
    // Before, each of these waited maxWait too, for a request queued behind the hung one.
    for (const ms of took.slice(1)) expect(ms, `publishing took ${shown} ms`).toBeLessThan(MAX_WAIT_MS / 2);
    expect(sockets.size).toBeGreaterThan(0);
  });
});
