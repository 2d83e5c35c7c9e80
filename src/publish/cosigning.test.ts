// serve's cosigning step against two real witnesses (in this process, plain HTTP on loopback):
// a required one and an optional one. The optional witness is asked and its cosignature
// carried, but never counted toward the quorum: with the required witness down and failMode
// closed, nothing new is published however many optional cosignatures there are.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import { NoteVerifier, openCheckpoint, CosignatureVerifier } from "../tlog/index.js";
import { runWitness, type RunningWitness } from "../witness/run-witness.js";
import { loadCosignersConfig } from "./cosigners-config.js";
import { Cosigning } from "./cosigning.js";
import { HttpClient } from "./http-client.js";

describe("Cosigning with a required and an optional witness", () => {
  let dir = "";
  const log = new SignedLog("cosigning.test/log");
  const witnesses: RunningWitness[] = [];
  let cosigning: Cosigning;
  let http: HttpClient;
  const keys: string[] = [];

  /** The log grows by `n`; its checkpoint goes through the cosigning step and is written. */
  const publish = async (n: number): Promise<string> => {
    log.append(n);
    const signed = await log.checkpoint();
    const cp = openCheckpoint(signed, NoteVerifier.fromKey(log.verifierKey));
    const note = await cosigning.cosign(signed, cp);
    cosigning.written({ origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note });
    return note;
  };
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
    const file = path.join(dir, "cosigners.yaml");
    writeFileSync(
      file,
      [
        "witnesses:",
        `  - {url: "http://127.0.0.1:${witnesses[0]!.server.port}/", key: "${keys[0]}"}`,
        `  - {url: "http://127.0.0.1:${witnesses[1]!.server.port}/", key: "${keys[1]}", optional: true}`,
        "quorum: 1",
        "failMode: closed",
        "timeout: 2s",
        "retries: 0",
        "maxWait: 2s",
      ].join("\n") + "\n",
    );
    http = new HttpClient();
    cosigning = new Cosigning({
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
