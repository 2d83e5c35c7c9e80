import { createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "./base64.js";
import { formatCheckpoint, openCheckpoint, signCheckpoint, type Checkpoint } from "./checkpoint.js";
import {
  CosignatureSigner,
  CosignatureVerifier,
  cosignatureTime,
  generateCosignatureKey,
} from "./cosignature.js";
import { newSigner, newVerifier } from "./keys.js";
import { generateNoteKey, NoteSigner, NoteVerifier } from "./note-key.js";
import { attachSignatures, noteKeyHash, openNote, signatureBytes, signNote, splitNote } from "./note.js";
import { rootFromLeafHashes } from "./tree.js";
import { testLeaves } from "./testdata/helpers.js";

/** The raw public key of a verifier key text: the base64 after the second "+", without its algorithm byte. */
const publicKeyOf = (vkey: string): Uint8Array =>
  decodeBase64(vkey.split("+").slice(2).join("+"))!.subarray(1);
const code = (c: string) => expect.objectContaining({ code: c });
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

const origin = "kubetrail.example/audit";
const cp: Checkpoint = { origin, size: 7, rootHash: rootFromLeafHashes(testLeaves(7)), extensions: [] };
const log = generateNoteKey(origin);
const logSigner = NoteSigner.fromKey(log.signerKey);
const logVerifier = NoteVerifier.fromKey(log.verifierKey);
const witnessKey = generateCosignatureKey("witness.example/w1");
const T = 1_679_315_147;
const witness = CosignatureSigner.fromKey(witnessKey.signerKey, () => T * 1000 + 999);
const witnessVerifier = CosignatureVerifier.fromKey(witnessKey.verifierKey);

describe("cosignature/v1 keys", () => {
  it("are Ed25519 keys of algorithm 4, hashed with that byte, and parse from their texts", () => {
    expect(witnessKey.signerKey).toMatch(
      /^PRIVATE\+KEY\+witness\.example\/w1\+[0-9a-f]{8}\+B[A-Za-z0-9+/]{43}$/,
    );
    expect(witnessKey.verifierKey).toMatch(/^witness\.example\/w1\+[0-9a-f]{8}\+B[A-Za-z0-9+/]{43}$/);
    expect(witness.verifierKey).toBe(witnessKey.verifierKey);
    expect([witness.name, witness.keyHash]).toEqual([witnessVerifier.name, witnessVerifier.keyHash]);
    // The same public key as a note key (algorithm 1) has another key hash: lines cannot be confused.
    const raw = publicKeyOf(witnessKey.verifierKey);
    expect(noteKeyHash("witness.example/w1", raw)).not.toBe(witnessVerifier.keyHash);
    expect(noteKeyHash("witness.example/w1", raw, 4)).toBe(witnessVerifier.keyHash);
  });

  it("newSigner and newVerifier pick the class by the algorithm byte", () => {
    expect(newVerifier(witnessKey.verifierKey)).toBeInstanceOf(CosignatureVerifier);
    expect(newVerifier(log.verifierKey)).toBeInstanceOf(NoteVerifier);
    expect(newSigner(witnessKey.signerKey)).toBeInstanceOf(CosignatureSigner);
    expect(newSigner(log.signerKey)).toBeInstanceOf(NoteSigner);
  });

  it("refuse the other algorithm's key in the specific classes, without echoing a secret", () => {
    expect(() => NoteVerifier.fromKey(witnessKey.verifierKey)).toThrow(code("malformed-key"));
    expect(() => CosignatureVerifier.fromKey(log.verifierKey)).toThrow(code("malformed-key"));
    expect(() => CosignatureSigner.fromKey(log.signerKey)).toThrow(code("malformed-key"));
    try {
      NoteSigner.fromKey(witnessKey.signerKey);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: "malformed-key" });
      expect((e as Error).message).not.toContain(witnessKey.signerKey.slice(-20));
    }
  });
});

describe("cosignature/v1 signatures", () => {
  it("sign the spec's message: header, time line, then the checkpoint text, with the timestamp first", async () => {
    const text = formatCheckpoint(cp);
    const note = await signNote(text, [witness]);
    const sig = signatureBytes(splitNote(note).signatures[0]!);
    expect(sig.length).toBe(72);
    expect(cosignatureTime(sig)).toBe(T);
    expect(Buffer.from(sig.subarray(0, 8)).readBigUInt64BE(0)).toBe(BigInt(T));
    // Checked with node:crypto directly over the message C2SP tlog-cosignature defines.
    const raw = publicKeyOf(witnessKey.verifierKey);
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
    const message = Buffer.from(`cosignature/v1\ntime ${T}\n${text}`);
    expect(verify(null, message, key, sig.subarray(8))).toBe(true);
  });

  it("verify only the exact text and timestamp they were made for", async () => {
    const text = new TextEncoder().encode(formatCheckpoint(cp));
    const sig = await witness.sign(text);
    expect(witnessVerifier.verify(text, sig)).toBe(true);
    const later = sig.slice();
    later[7] = (later[7]! + 1) & 0xff;
    expect(witnessVerifier.verify(text, later)).toBe(false);
    const other = new TextEncoder().encode(formatCheckpoint({ ...cp, size: 8 }));
    expect(witnessVerifier.verify(other, sig)).toBe(false);
    expect(witnessVerifier.verify(text, sig.subarray(8))).toBe(false);
    const huge = sig.slice();
    huge[0] = 0x80; // beyond 2^63 - 1
    expect(cosignatureTime(huge)).toBeNull();
    expect(witnessVerifier.verify(text, huge)).toBe(false);
  });
});

describe("checkpoints opened with several verifiers", () => {
  it("publish as sign, then collect cosignatures, then one note that verifies with every key", async () => {
    const signed = await signCheckpoint(cp, logSigner);
    // What a witness does with the checkpoint it was sent: its own line, over the same text.
    const { text } = splitNote(signed);
    const witnessLine = splitNote(await signNote(text, [witness])).signatures;
    const published = attachSignatures(signed, witnessLine);
    expect(published.startsWith(signed)).toBe(true);
    expect(attachSignatures(published, witnessLine)).toBe(published);

    const opened = openCheckpoint(published, [logVerifier, witnessVerifier]);
    expect(opened).toMatchObject({ origin, size: 7, extensions: [] });
    expect(opened.signatures.map((s) => s.name)).toEqual([origin, "witness.example/w1"]);
    expect(opened.cosignatures).toEqual([{ name: "witness.example/w1", keyHash: witness.keyHash, time: T }]);
    expect(opened.unverified).toEqual([]);
    // The log's key alone still opens it; the cosignature is kept, unchecked.
    const alone = openCheckpoint(published, logVerifier);
    expect(alone.cosignatures).toEqual([]);
    expect(alone.unverified.map((s) => s.name)).toEqual(["witness.example/w1"]);
  });

  it("need the log's own signature: a cosignature alone, or one named as the log, is not enough", async () => {
    const text = formatCheckpoint(cp);
    const onlyWitness = await signNote(text, [witness]);
    expect(() => openCheckpoint(onlyWitness, [logVerifier, witnessVerifier])).toThrow(
      code("origin-mismatch"),
    );
    const impostorKey = generateCosignatureKey(origin);
    const impostor = CosignatureSigner.fromKey(impostorKey.signerKey);
    const byImpostor = await signNote(text, [impostor]);
    expect(() => openCheckpoint(byImpostor, CosignatureVerifier.fromKey(impostorKey.verifierKey))).toThrow(
      code("origin-mismatch"),
    );
  });

  it("refuse a checkpoint whose cosignature by a given witness does not verify", async () => {
    const signed = await signCheckpoint(cp, logSigner);
    const forOther = await signNote(formatCheckpoint({ ...cp, size: 6 }), [witness]);
    const wrong = attachSignatures(signed, splitNote(forOther).signatures);
    expect(() => openCheckpoint(wrong, [logVerifier, witnessVerifier])).toThrow(code("bad-signature"));
    // Without the witness's key the bad line is just an unverified signature.
    expect(openCheckpoint(wrong, logVerifier).unverified).toHaveLength(1);
    expect(openNote(wrong, [logVerifier]).signatures).toHaveLength(1);
  });

  it("accept a log key rotation: either of two keys of the origin", async () => {
    const next = generateNoteKey(origin);
    const note = await signCheckpoint(cp, NoteSigner.fromKey(next.signerKey));
    const opened = openCheckpoint(note, [logVerifier, NoteVerifier.fromKey(next.verifierKey)]);
    expect(opened.signatures.map((s) => s.keyHash)).toEqual([NoteVerifier.fromKey(next.verifierKey).keyHash]);
  });

  it("report a signer that fails as sign-failed, with its error as the cause", async () => {
    const broken = {
      name: "kms.example/key",
      keyHash: 1,
      sign: async () => Promise.reject(new Error("KMS down")),
    };
    const err = await signNote("text\n", [broken]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "sign-failed" });
    expect((err as Error).cause).toMatchObject({ message: "KMS down" });
  });
});
