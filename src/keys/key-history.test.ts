import { describe, expect, it } from "vitest";
import { generateNoteKey, NoteSigner, NoteVerifier, signNote, formatCheckpoint } from "../tlog/index.js";
import { encodeKeyEvent, makeKeyEvent, readKeyEvent } from "./key-event.js";
import { KeyHistory } from "./key-history.js";

const origin = "history.test/log";
const keys = [generateNoteKey(origin), generateNoteKey(origin), generateNoteKey(origin)];
const signer = (i: number) => NoteSigner.fromKey(keys[i]!.signerKey);
const vkey = (i: number) => keys[i]!.verifierKey;
const verifier = (i: number) => NoteVerifier.fromKey(vkey(i));
const note = (size: number, by: number[]) =>
  signNote(
    formatCheckpoint({ origin, size, rootHash: new Uint8Array(32).fill(size), extensions: [] }),
    by.map(signer),
  );

describe("key history", () => {
  it("follows added and retired keys both ways from a pinned key", async () => {
    const h = new KeyHistory();
    h.observe(4, encodeKeyEvent(await makeKeyEvent("added", vkey(1), signer(0), vkey(0))));
    h.observe(9, encodeKeyEvent(await makeKeyEvent("retired", vkey(0), signer(1), vkey(1))));
    for (const pinned of [[verifier(0)], [verifier(1)]]) {
      const trust = h.trust(pinned);
      expect(trust.validAt(3).map((v) => v.key)).toEqual([vkey(0)]);
      expect(new Set(trust.validAt(7).map((v) => v.key))).toEqual(new Set([vkey(0), vkey(1)]));
      expect(trust.validAt(12).map((v) => v.key)).toEqual([vkey(1)]);
      expect(trust.open(await note(3, [0])).size).toBe(3);
      expect(trust.open(await note(7, [0, 1])).size).toBe(7);
      expect(trust.open(await note(12, [1])).size).toBe(12);
      await expect(async () => trust.open(await note(12, [0]))).rejects.toMatchObject({
        code: "retired-key",
      });
      await expect(async () => trust.open(await note(4, [1]))).rejects.toMatchObject({
        code: "not-yet-valid-key",
      });
    }
  });

  it("ignores events a trusted key did not endorse and reports forged endorsements", async () => {
    const h = new KeyHistory();
    // Key 2 endorses its own addition: nobody trusted vouches for it.
    h.observe(1, encodeKeyEvent(await makeKeyEvent("added", vkey(2), signer(2), vkey(2))));
    // A retirement of key 0 endorsed by the untrusted key 2: no effect.
    h.observe(2, encodeKeyEvent(await makeKeyEvent("retired", vkey(0), signer(2), vkey(2))));
    const trust = h.trust([verifier(0)]);
    expect(trust.open(await note(5, [0])).size).toBe(5);
    await expect(async () => trust.open(await note(5, [2]))).rejects.toMatchObject({ code: "unknown-key" });
    // An endorsement that does not verify is a problem, not a key.
    const event = await makeKeyEvent("added", vkey(1), signer(0), vkey(0));
    const forged = { ...event, key: vkey(2) };
    expect(readKeyEvent(encodeKeyEvent(forged))).toMatch(/does not verify/);
    h.observe(3, encodeKeyEvent(forged));
    expect(h.problems).toHaveLength(1);
    expect(readKeyEvent(new TextEncoder().encode('{"kind":"Event","auditID":"x"}'))).toBeNull();
  });
});
