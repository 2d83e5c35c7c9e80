import { mkdtempSync, rmSync, appendFileSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import {
  CosignatureSigner,
  CosignatureVerifier,
  NoteVerifier,
  attachSignatures,
  formatAddCheckpointRequest,
  generateCosignatureKey,
  openCheckpoint,
  parseCosignatureResponse,
  signCheckpoint,
  signatureBytes,
  splitNote,
} from "../tlog/index.js";
import { inlineChecker, type Checker } from "./check.js";
import { CheckThreads } from "./check-thread.js";
import { CheckpointStore } from "./checkpoint-store.js";
import { type LogConfig, parseLogsConfig } from "./logs-config.js";
import { originHash, Witness, type ForkEvidence } from "./witness.js";

// Every case runs with the checks on this thread (as a mirror runs them) and on check threads
// (as `kubetrail witness` does); two threads, so that requests alternate between them.
describe.each([
  ["on this thread", 0],
  ["on check threads", 2],
])("witness add-checkpoint (C2SP tlog-witness), checked %s", (_where, threads) => {
  let dir = "";
  let store: CheckpointStore;
  let witness: Witness;
  let log: SignedLog;
  let logs: ReadonlyMap<string, LogConfig>;
  const checkers: CheckThreads[] = [];
  const forks: ForkEvidence[] = [];
  const keys = generateCosignatureKey("witness.test/w1");
  const verifier = CosignatureVerifier.fromKey(keys.verifierKey);

  const open = async (): Promise<void> => {
    store = await CheckpointStore.open(path.join(dir, "witness"), "cosigned");
    logs = parseLogsConfig(`logs:\n  - ${log.verifierKey}\n`, "logs.yaml").logs;
    let checker: Checker = inlineChecker(CosignatureSigner.fromKey(keys.signerKey));
    if (threads > 0) {
      const onThreads = new CheckThreads({ signerKey: keys.signerKey }, threads);
      checkers.push(onThreads);
      checker = onThreads;
    }
    witness = new Witness({
      store,
      logs: () => logs,
      checker,
      onFork: (e) => forks.push(e),
    });
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-witness-"));
    log = new SignedLog("log.test/one").append(10);
    forks.length = 0;
    await open();
  });
  afterEach(async () => {
    await store.close();
    await Promise.all(checkers.splice(0).map((c) => c.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("cosigns a first checkpoint from 0 and then each consistent extension", async () => {
    const first = await witness.addCheckpoint(await log.addCheckpointBody(0));
    expect(first.status).toBe(200);
    const sigs = parseCosignatureResponse(first.body);
    expect(sigs.map((s) => s.name)).toEqual(["witness.test/w1"]);
    // The answer, attached to the checkpoint, opens with the witness's key beside the log's.
    const cosigned = attachSignatures(await log.checkpoint(), sigs);
    const opened = openCheckpoint(cosigned, [NoteVerifier.fromKey(log.verifierKey), verifier]);
    expect(opened.cosignatures).toHaveLength(1);
    expect(Math.abs(opened.cosignatures[0]!.time - Date.now() / 1000)).toBeLessThan(60);

    log.append(300);
    const second = await witness.addCheckpoint(await log.addCheckpointBody(10));
    expect(second.status).toBe(200);
    // The monitoring endpoint serves the latest cosigned checkpoint with both signatures.
    const latest = witness.latest(originHash(log.origin))!;
    expect(openCheckpoint(latest, [NoteVerifier.fromKey(log.verifierKey), verifier]).size).toBe(310);
    expect(witness.latest(originHash("other.test/log"))).toBeNull();
  });

  it("answers 409 with the size it holds when the old size is not it", async () => {
    expect((await witness.addCheckpoint(await log.addCheckpointBody(0))).status).toBe(200);
    log.append(5);
    const stale = await witness.addCheckpoint(await log.addCheckpointBody(0));
    expect(stale).toEqual({ status: 409, contentType: "text/x.tlog.size", body: "10\n" });
    const ahead = await witness.addCheckpoint(await log.addCheckpointBody(12));
    expect(ahead.status).toBe(409);
    expect(ahead.body).toBe("10\n");
  });

  it("answers 404 for an unknown origin and 403 without a valid signature by the log's key", async () => {
    const stranger = new SignedLog("log.test/stranger").append(3);
    expect((await witness.addCheckpoint(await stranger.addCheckpointBody(0))).status).toBe(404);
    // Same origin, another key: not the configured log.
    const impostor = new SignedLog(log.origin).append(10);
    expect((await witness.addCheckpoint(await impostor.addCheckpointBody(0))).status).toBe(403);
    // The configured key's line with a signature that does not verify.
    const good = await log.checkpoint();
    const bad = good.replace(
      /(— \S+ )(\S{10})/,
      (_m, p: string, s: string) => p + (s[0] === "A" ? "B" : "A") + s.slice(1),
    );
    const body = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: bad });
    expect((await witness.addCheckpoint(body)).status).toBe(403);
    expect(witness.latest(originHash(log.origin))).toBeNull();
  });

  it("follows a reloaded logs configuration: a log added is witnessed, a log removed is unknown", async () => {
    const second = new SignedLog("log.test/two").append(4);
    expect((await witness.addCheckpoint(await second.addCheckpointBody(0))).status).toBe(404);
    logs = parseLogsConfig(`logs:\n  - ${log.verifierKey}\n  - ${second.verifierKey}\n`, "logs.yaml").logs;
    expect((await witness.addCheckpoint(await second.addCheckpointBody(0))).status).toBe(200);
    expect((await witness.addCheckpoint(await log.addCheckpointBody(0))).status).toBe(200);
    logs = parseLogsConfig(`logs:\n  - ${second.verifierKey}\n`, "logs.yaml").logs;
    log.append(2);
    expect((await witness.addCheckpoint(await log.addCheckpointBody(10))).status).toBe(404);
  });

  it("answers 400 for a malformed body and an old size beyond the checkpoint", async () => {
    expect((await witness.addCheckpoint("old 0\n")).status).toBe(400);
    expect((await witness.addCheckpoint("old 0\n\nnot a note\n")).status).toBe(400);
    const body = formatAddCheckpointRequest({ oldSize: 11, proof: [], checkpoint: await log.checkpoint() });
    expect((await witness.addCheckpoint(body)).status).toBe(400);
  });

  it("answers 422 for bad proofs, a proof from 0 and a size-0 checkpoint with another root", async () => {
    const withProof = formatAddCheckpointRequest({
      oldSize: 0,
      proof: [log.root()],
      checkpoint: await log.checkpoint(),
    });
    expect((await witness.addCheckpoint(withProof)).status).toBe(422);
    const empty = await signCheckpoint(
      { origin: log.origin, size: 0, rootHash: log.root(), extensions: [] },
      log.signer,
    );
    expect(
      (await witness.addCheckpoint(formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: empty })))
        .status,
    ).toBe(422);

    expect((await witness.addCheckpoint(await log.addCheckpointBody(0, 7))).status).toBe(200);
    const wrongProof = formatAddCheckpointRequest({
      oldSize: 7,
      proof: log.proof(6, 10),
      checkpoint: await log.checkpoint(),
    });
    expect((await witness.addCheckpoint(wrongProof)).status).toBe(422);
    expect((await witness.addCheckpoint(await log.addCheckpointBody(7))).status).toBe(200);
  });

  it("refuses a fork, keeps the evidence naming both checkpoints, and still follows the real log", async () => {
    expect((await witness.addCheckpoint(await log.addCheckpointBody(0))).status).toBe(200);
    // Same size, another tree, signed by the log's own key: a split view.
    const fork = log.fork(6).append(4, "forged");
    const sameSize = formatAddCheckpointRequest({
      oldSize: 10,
      proof: [],
      checkpoint: await fork.checkpoint(),
    });
    const refused = await witness.addCheckpoint(sameSize);
    expect(refused.status).toBe(422);
    expect(forks).toHaveLength(1);
    expect(forks[0]!.shown).toBe(await fork.checkpoint());
    expect(forks[0]!.held).toContain(`${log.origin}\n10\n`);
    // A larger fork whose proof cannot come from the held tree.
    fork.append(20, "forged");
    const bigger = formatAddCheckpointRequest({
      oldSize: 10,
      proof: fork.proof(10),
      checkpoint: await fork.checkpoint(),
    });
    expect((await witness.addCheckpoint(bigger)).status).toBe(422);
    expect(forks).toHaveLength(2);
    // Same tree of the same size with another extension line: a different checkpoint, refused too.
    const other = formatAddCheckpointRequest({
      oldSize: 10,
      proof: [],
      checkpoint: await log.checkpoint(10, ["x"]),
    });
    expect((await witness.addCheckpoint(other)).status).toBe(422);
    // The same checkpoint again is cosigned again.
    expect((await witness.addCheckpoint(await log.addCheckpointBody(10))).status).toBe(200);
  });

  it("never cosigns two different checkpoints of one size, however requests race", async () => {
    const seed = Number(process.env["TEST_SEED"] ?? Date.now() % 100_000);
    console.log(`witness race seed ${seed}`);
    await witness.addCheckpoint(await log.addCheckpointBody(0, 4));
    // Twenty forks of size 10 from the same size-4 tree, all at once, plus the real one.
    const bodies: string[] = [await log.addCheckpointBody(4)];
    for (let i = 0; i < 20; i++) {
      const fork = log.fork(4).append(6, `fork-${seed}-${i}`);
      bodies.push(await fork.addCheckpointBody(4));
    }
    const replies = await Promise.all(bodies.map((b) => witness.addCheckpoint(b)));
    const cosigned = replies.filter((r) => r.status === 200);
    expect(cosigned).toHaveLength(1);
    // The others hear the size now held (409): none got a cosignature.
    expect(replies.filter((r) => r.status === 409)).toHaveLength(20);
    const held = witness.latest(originHash(log.origin))!;
    const sig = parseCosignatureResponse(cosigned[0]!.body);
    // The one cosignature given is over the checkpoint the witness now holds.
    const text = new TextEncoder().encode(splitNote(held).text);
    expect(verifier.verify(text, signatureBytes(sig[0]!))).toBe(true);
  });

  it("keeps what it cosigned across a reopen and cuts a torn last record", async () => {
    expect((await witness.addCheckpoint(await log.addCheckpointBody(0))).status).toBe(200);
    await store.close();
    appendFileSync(path.join(dir, "witness", "cosigned.journal"), '1234abcd {"k":"log.test/one","s":99');
    await open();
    expect(witness.latest(originHash(log.origin))).toContain(`${log.origin}\n10\n`);
    expect(readFileSync(path.join(dir, "witness", "cosigned.journal"), "utf8")).not.toContain("1234abcd");
    log.append(1);
    expect((await witness.addCheckpoint(await log.addCheckpointBody(0))).body).toBe("10\n");
    expect((await witness.addCheckpoint(await log.addCheckpointBody(10))).status).toBe(200);
  });
});
