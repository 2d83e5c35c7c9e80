// A real `kubetrail witness` process killed with SIGKILL at random moments while logs send it
// checkpoints: after every restart it still holds at least every checkpoint it answered with a
// cosignature (never rolls back, so it can never be made to cosign a fork of one), answers the
// logs from where it was, and refuses a fork of what it holds.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRng } from "../../bench/gen/rng.js";
import { SignedLog } from "../../bench/gen/signed-log.js";
import {
  CosignatureVerifier,
  formatAddCheckpointRequest,
  NoteVerifier,
  openCheckpoint,
} from "../../src/tlog/index.js";
import { defaultCheckThreads } from "../../src/witness/check-thread.js";
import { originHash } from "../../src/witness/witness.js";
import { callCosigner, cosignerKey, startCosigner, type Cosigner } from "../fixtures/cosigner-process.js";
import { requireBuiltCli } from "../faults/serve-process.js";

const SEED = Number(process.env["TEST_SEED"] ?? Date.now() % 1_000_000);

describe("witness killed with SIGKILL mid-traffic", () => {
  let dir = "";
  let witness: Cosigner;
  let vkey = "";
  const logs = [0, 1, 2].map((i) => new SignedLog(`crash.test/log${i}`));

  beforeAll(async () => {
    requireBuiltCli();
    console.log(`witness crash seed ${SEED} (TEST_SEED=${SEED} to repeat)`);
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-witness-crash-"));
    const data = path.join(dir, "witness");
    writeFileSync(
      path.join(dir, "logs.yaml"),
      `logs:\n${logs.map((l) => `  - ${l.verifierKey}\n`).join("")}`,
    );
    vkey = await cosignerKey("witness", data, "witness.crash.test/w");
    witness = await startCosigner("witness", data, ["--logs", path.join(dir, "logs.yaml")]);
  });
  afterAll(async () => {
    await witness?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("checks requests on threads of their own, beside its event loop", async () => {
    const pid = witness.proc.pid!;
    const checkThreads = (): number =>
      readdirSync(`/proc/${pid}/task`)
        .map((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim())
        .filter((n) => n === "kt-wit-check").length;
    // A thread names itself once its module has loaded, which on a busy machine can come a
    // moment after the witness answers.
    for (let t = 0; t < 100 && checkThreads() < defaultCheckThreads(); t++) await sleep(100);
    expect(checkThreads()).toBe(defaultCheckThreads());
  });

  it("keeps every checkpoint it cosigned across 8 kills, and never cosigns a fork of one", async () => {
    const rng = makeRng(SEED);
    const verifier = CosignatureVerifier.fromKey(vkey);
    // Per log: the largest size answered with a valid cosignature, and the size it believes held.
    const cosigned = logs.map(() => 0);
    const held = logs.map(() => 0);
    for (let round = 0; round < 8; round++) {
      let stop = false;
      // Each log sends checkpoints one after another, as a log does; the three run at once.
      const traffic = logs.map(async (log, i) => {
        while (!stop) {
          log.append(1 + Math.floor(rng.next() * 40));
          const body = await log.addCheckpointBody(held[i]!);
          const r = await callCosigner(witness, { path: "/add-checkpoint", body }).catch(() => null);
          if (r === null) return; // killed mid-request
          if (r.status === 409) held[i] = Number(r.body.trim());
          else if (r.status === 200) {
            const cp = openCheckpoint((await log.checkpoint()) + r.body, [
              NoteVerifier.fromKey(log.verifierKey),
              verifier,
            ]);
            expect(cp.cosignatures).toHaveLength(1);
            held[i] = log.size;
            cosigned[i] = Math.max(cosigned[i]!, log.size);
          } else throw new Error(`unexpected ${r.status}: ${r.body}`);
        }
      });
      await new Promise((r) => setTimeout(r, 20 + rng.next() * 400));
      await witness.kill("SIGKILL");
      stop = true;
      await Promise.all(traffic);
      witness = await witness.restart();
      for (const [i, log] of logs.entries()) {
        const r = await callCosigner(witness, { path: `/${originHash(log.origin)}/checkpoint` });
        const size =
          r.status === 404
            ? 0
            : openCheckpoint(r.body, [NoteVerifier.fromKey(log.verifierKey), verifier]).size;
        // Everything answered 200 is still held; a request killed after its sync may be held too.
        expect(size, `log ${i} after kill ${round + 1}`).toBeGreaterThanOrEqual(cosigned[i]!);
        held[i] = size;
      }
    }
    expect(cosigned.every((c) => c > 0)).toBe(true);
    // A fork of what it holds, signed by the log's own key, gets no cosignature.
    const log = logs[0]!;
    const fork = log.fork(held[0]! - 1).append(1, "forged");
    const body = formatAddCheckpointRequest({
      oldSize: held[0]!,
      proof: [],
      checkpoint: await fork.checkpoint(),
    });
    const r = await callCosigner(witness, { path: "/add-checkpoint", body });
    expect(r.status).toBe(422);
  });

  it("takes a log added to its logs file without a restart (on SIGHUP)", async () => {
    const newcomer = new SignedLog("crash.test/newcomer").append(5);
    const pid = witness.proc.pid;
    const before = await callCosigner(witness, {
      path: "/add-checkpoint",
      body: await newcomer.addCheckpointBody(0),
    });
    expect(before.status).toBe(404);
    writeFileSync(
      path.join(dir, "logs.yaml"),
      `logs:\n${[...logs, newcomer].map((l) => `  - ${l.verifierKey}\n`).join("")}`,
    );
    witness.proc.kill("SIGHUP");
    let after = before;
    for (let t = 0; after.status === 404 && t < 50; t++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await callCosigner(witness, {
        path: "/add-checkpoint",
        body: await newcomer.addCheckpointBody(0),
      });
    }
    expect(after.status, after.body).toBe(200);
    expect(witness.proc.pid).toBe(pid);
    expect(witness.proc.exitCode).toBeNull();
  });
});
