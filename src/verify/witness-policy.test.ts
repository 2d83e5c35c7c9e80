import { describe, expect, it } from "vitest";
import { SignedLog } from "../../bench/gen/signed-log.js";
import {
  attachSignatures,
  CosignatureSigner,
  generateCosignatureKey,
  NoteVerifier,
  signNote,
  splitNote,
} from "../tlog/index.js";
import { openWitnessedCheckpoint, witnessPolicyFromFlags, WitnessPolicyError } from "./witness-policy.js";

const w = ["w.test/a", "w.test/b", "w.test/c"].map((n) => generateCosignatureKey(n));

async function cosigned(log: SignedLog, by: number[]): Promise<string> {
  const note = await log.checkpoint();
  const signers = by.map((i) => CosignatureSigner.fromKey(w[i]!.signerKey));
  const withSigs = await signNote(splitNote(note).text, signers, splitNote(note).signatures);
  return withSigs;
}

describe("witness policy", () => {
  const log = new SignedLog("log.test/p").append(5);
  const logKey = [NoteVerifier.fromKey(log.verifierKey)];
  const keys = w.map((k) => k.verifierKey);

  it("accepts a quorum and names the witnesses missing from a short one", async () => {
    const policy = witnessPolicyFromFlags(keys, "2")!;
    expect(openWitnessedCheckpoint(await cosigned(log, [0, 2]), logKey, policy).cosignatures).toHaveLength(2);
    const short = await cosigned(log, [1]);
    expect(() => openWitnessedCheckpoint(short, logKey, policy)).toThrow(
      "checkpoint of size 5 carries 1 of the 2 witness cosignatures needed (missing: w.test/a, w.test/c)",
    );
    // Default: every witness given.
    expect(() => openWitnessedCheckpoint(short, logKey, witnessPolicyFromFlags(keys, undefined))).toThrow(
      /1 of the 3/,
    );
    // No policy: the log's signature is enough.
    expect(openWitnessedCheckpoint(await log.checkpoint(), logKey, null).size).toBe(5);
  });

  it("counts only valid cosignatures by the given keys", async () => {
    const policy = witnessPolicyFromFlags([keys[0]!], undefined)!;
    // A cosignature by a key not in the policy does not count.
    const byB = await cosigned(log, [1]);
    expect(() => openWitnessedCheckpoint(byB, logKey, policy)).toThrow(/missing: w.test\/a/);
    // A cosignature of another checkpoint moved onto this one is a bad signature.
    const elsewhere = await cosigned(log.fork(5).append(1), [0]);
    const moved = attachSignatures(await log.checkpoint(), splitNote(elsewhere).signatures.slice(1));
    expect(() => openWitnessedCheckpoint(moved, logKey, policy)).toThrow(
      expect.objectContaining({ code: "bad-checkpoint" }),
    );
  });

  it("refuses bad flags with the flag's name", () => {
    expect(() => witnessPolicyFromFlags(["nonsense"], undefined)).toThrow(/--witness 1/);
    expect(() => witnessPolicyFromFlags([log.verifierKey], undefined)).toThrow(/not a cosignature\/v1 key/);
    expect(() => witnessPolicyFromFlags(keys, "4")).toThrow(/--min-witnesses 4/);
    expect(() => witnessPolicyFromFlags([], "1")).toThrow(WitnessPolicyError);
    expect(witnessPolicyFromFlags([], undefined)).toBeNull();
  });
});
