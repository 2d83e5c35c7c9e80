// A real `kubetrail witness` killed at each step boundary of add-checkpoint in turn, by its
// test-only crash points (src/witness/crash-points.ts: it SIGKILLs itself the n-th time it
// reaches the step). After each kill and restart: every checkpoint answered with a
// cosignature is still held; what it holds is the last answered checkpoint or the one in
// flight, nothing else (and which one, where the step decides it); the log carries on from
// there per the spec (409 tells it the size held, the same checkpoint is cosigned again); and a
// different checkpoint of the size it holds is refused — no two cosigned trees of one size.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import {
  CosignatureVerifier,
  formatAddCheckpointRequest,
  NoteVerifier,
  openCheckpoint,
} from "../../src/tlog/index.js";
import { CRASH_STEPS, type CrashStep } from "../../src/witness/crash-points.js";
import { originHash } from "../../src/witness/witness.js";
import { callCosigner, cosignerKey, startCosigner, type Cosigner } from "../fixtures/cosigner-process.js";
import { requireBuiltCli } from "../faults/serve-process.js";

/** Steps after which the checkpoint of that passage has reached the journal file (the kernel keeps it). */
const WRITTEN: readonly CrashStep[] = CRASH_STEPS.slice(CRASH_STEPS.indexOf("journal-written"));
/** The kill comes on this passage through the step, so there is history before it. */
const AT = 3;

describe("witness killed at every step of add-checkpoint", () => {
  let dir = "";
  beforeAll(() => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-witness-steps-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a crash point unless the test-only switch is on", async () => {
    const data = path.join(dir, "refuses");
    const log = new SignedLog("steps.test/refuses");
    writeFileSync(path.join(dir, "refuses.yaml"), `logs:\n  - ${log.verifierKey}\n`);
    const started = startCosigner("witness", data, ["--logs", path.join(dir, "refuses.yaml")], undefined, {
      KUBETRAIL_CRASH_AT: "journal-synced",
    });
    await expect(started).rejects.toThrow(
      /KUBETRAIL_CRASH_AT is a test-only fault injection; it needs KUBETRAIL_TEST_CRASH_POINTS=1/,
    );
  });

  it.each(CRASH_STEPS.map((s) => [s]))(
    "loses nothing cosigned and never cosigns a fork, killed at %s",
    { timeout: 60_000 },
    async (step) => {
      const data = path.join(dir, step);
      const log = new SignedLog(`steps.test/${step}`);
      const logsFile = path.join(dir, `${step}.yaml`);
      writeFileSync(logsFile, `logs:\n  - ${log.verifierKey}\n`);
      const vkey = await cosignerKey("witness", data, "witness.steps.test/w");
      const verifiers = [NoteVerifier.fromKey(log.verifierKey), CosignatureVerifier.fromKey(vkey)];
      const env = {
        KUBETRAIL_TEST_CRASH_POINTS: "1",
        KUBETRAIL_CRASH_AT: `${step}@${AT}`,
        // Fold the journal into the snapshot after every record, so the snapshot steps come soon.
        ...(step.startsWith("snapshot") || step === "journal-rewound"
          ? { KUBETRAIL_TEST_COMPACT_BYTES: "1" }
          : {}),
      };
      let witness: Cosigner = await startCosigner("witness", data, ["--logs", logsFile], undefined, env);
      /** Sends the log's current checkpoint from `old`: the reply, or null when the witness died. */
      const send = async (w: Cosigner, old: number) =>
        callCosigner(w, { path: "/add-checkpoint", body: await log.addCheckpointBody(old) }).catch(
          () => null,
        );
      // Ed25519 is deterministic: the log's checkpoint of a size is the same note each time.
      const expectCosigned = async (reply: string, size: number) =>
        expect(openCheckpoint((await log.checkpoint(size)) + reply, verifiers).cosignatures).toHaveLength(1);

      let acked = 0;
      let inFlight = 0;
      const sent: number[] = [];
      for (let i = 0; i < 10; i++) {
        log.append(1 + i);
        inFlight = log.size;
        sent.push(log.size);
        const r = await send(witness, acked);
        if (r === null) break;
        expect(r.status, r.body).toBe(200);
        await expectCosigned(r.body, log.size);
        acked = log.size;
      }
      expect(await witness.exited, `the witness was to die at ${step}@${AT}`).toBe("SIGKILL");
      try {
        witness = await witness.restart();
        const got = await callCosigner(witness, { path: `/${originHash(log.origin)}/checkpoint` });
        expect(got.status, got.body).toBe(200);
        const held = openCheckpoint(got.body, verifiers);
        expect(held.cosignatures).toHaveLength(1);
        // Nothing answered 200 is lost; nothing but the last answered or the one in flight is held.
        expect(held.size).toBeGreaterThanOrEqual(acked);
        expect([acked, inFlight]).toContain(held.size);
        expect(held.rootHash).toEqual(log.root(held.size));
        // The kill came on the AT-th passage through the step: the AT-th checkpoint is held once
        // it reached the journal file, the one before it otherwise (whether or not an answer
        // got out before the kill).
        if (WRITTEN.includes(step))
          expect(held.size, "a record in the journal file survives").toBe(sent[AT - 1]);
        else expect(held.size, "nothing was written before the kill").toBe(sent[AT - 2]);

        // The log carries on as the spec says: it learns the size held, and the checkpoint in
        // flight, if held, is cosigned again as it was.
        if (held.size !== acked) {
          const stale = await send(witness, acked);
          expect(stale?.status).toBe(409);
          expect(Number(stale?.body.trim())).toBe(held.size);
          const again = await send(witness, held.size);
          expect(again?.status, again?.body).toBe(200);
          await expectCosigned(again!.body, held.size);
        }

        // A different tree of the size it holds, validly signed by the log: refused.
        const fork = log.fork(held.size - 1).append(1, "forged");
        const forged = await callCosigner(witness, {
          path: "/add-checkpoint",
          body: formatAddCheckpointRequest({
            oldSize: held.size,
            proof: [],
            checkpoint: await fork.checkpoint(),
          }),
        });
        expect(forged.status, forged.body).toBe(422);

        // And it keeps witnessing the real log.
        log.append(3);
        const next = await send(witness, held.size);
        expect(next?.status, next?.body).toBe(200);
      } finally {
        await witness.kill("SIGKILL");
      }
    },
  );
});
