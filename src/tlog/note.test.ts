import { describe, expect, it } from "vitest";
import { TlogError } from "./errors.js";
import { NoteSigner, NoteVerifier, generateNoteKey } from "./note-key.js";
import { openNote, openNoteAsync, signNote, splitNote } from "./note.js";

// Known key pair and signed messages from Go's golang.org/x/mod/sumdb/note (note_test.go,
// example_test.go) — the reference implementation of C2SP signed-note.
const peterSkey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const peterVkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const enochVkey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const text =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const peterSig =
  "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const enochSig =
  "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
const peter = { name: "PeterNeumann", keyHash: 0xc74f20a3, base64: peterSig.slice(15, -1) };
const enoch = { name: "EnochRoot", keyHash: 0xaf0cfe78, base64: enochSig.slice(12, -1) };

const peterVerifier = NoteVerifier.fromKey(peterVkey);
const enochVerifier = NoteVerifier.fromKey(enochVkey);

const peterChecked = { ...peter, verifier: peterVerifier };
const enochChecked = { ...enoch, verifier: enochVerifier };

const code = (c: string) => expect.objectContaining({ code: c });

describe("keys", () => {
  it("parse Go's published keys", () => {
    const signer = NoteSigner.fromKey(peterSkey);
    expect([signer.name, signer.keyHash, signer.verifierKey]).toEqual([
      "PeterNeumann",
      0xc74f20a3,
      peterVkey,
    ]);
    expect([peterVerifier.name, peterVerifier.keyHash]).toEqual(["PeterNeumann", 0xc74f20a3]);
    expect([enochVerifier.name, enochVerifier.keyHash]).toEqual(["EnochRoot", 0xaf0cfe78]);
  });

  // Every proper substring of a key and every key with one character bumped (Go's test).
  function manglings(key: string): string[] {
    const out: string[] = [];
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) out.push(key.slice(i, j));
    }
    for (let i = 0; i < key.length; i++) {
      out.push(key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1));
    }
    return out;
  }

  // The keys parse() accepted; every rejection must be a malformed-key error not echoing `secret`.
  function accepted(keys: string[], parse: (k: string) => unknown, secret = "\u0000"): string[] {
    return keys.filter((k) => {
      try {
        parse(k);
        return true;
      } catch (e) {
        expect(e).toMatchObject({ code: "malformed-key" });
        expect((e as Error).message).not.toContain(secret);
        return false;
      }
    });
  }

  it("reject every truncation and every single-character change of a verifier key", () => {
    const keys = [
      ...manglings(peterVkey),
      // Wrong key length and unknown algorithm, each with a matching key hash (Go's test cases).
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
      "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ];
    expect(accepted(keys, (k) => NoteVerifier.fromKey(k))).toEqual([]);
  });

  it("reject every truncation and every single-character change of a signer key, without echoing it", () => {
    expect(accepted(manglings(peterSkey), (k) => NoteSigner.fromKey(k), "AYEKFALV")).toEqual([]);
  });

  it("generated keys have Go's layout and sign and verify", () => {
    const { signerKey, verifierKey } = generateNoteKey("example.com/log");
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+example\.com\/log\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    expect(verifierKey).toMatch(/^example\.com\/log\+[0-9a-f]{8}\+A[A-Za-z0-9+/]{43}$/);
    const signer = NoteSigner.fromKey(signerKey);
    const verifier = NoteVerifier.fromKey(verifierKey);
    expect(signer.verifierKey).toBe(verifierKey);
    expect(signer.keyHash).toBe(verifier.keyHash);
    const msg = new TextEncoder().encode("hi");
    const sig = signer.sign(msg);
    expect(verifier.verify(msg, sig)).toBe(true);
    sig[0] = (sig[0] as number) ^ 1;
    expect(verifier.verify(msg, sig)).toBe(false);
    expect(verifier.verify(new TextEncoder().encode("ho"), signer.sign(msg))).toBe(false);
    expect(verifier.verify(msg, new Uint8Array(10))).toBe(false);
    expect(() => generateNoteKey("has space")).toThrow(code("malformed-key"));
    expect(() => generateNoteKey("a+b")).toThrow(code("malformed-key"));
    expect(() => generateNoteKey("")).toThrow(code("malformed-key"));
  });
});

describe("signNote", () => {
  it("produces Go's exact bytes for the published key and text", async () => {
    expect(await signNote(text, [NoteSigner.fromKey(peterSkey)])).toBe(`${text}\n${peterSig}`);
  });

  it("keeps existing signatures when cosigning and replaces one by the same key (Go's rules)", async () => {
    const signer = NoteSigner.fromKey(peterSkey);
    expect(await signNote(text, [signer], [{ ...peter, base64: "BADSIGN=" }])).toBe(`${text}\n${peterSig}`);
    const witness = NoteSigner.fromKey(generateNoteKey("witness.example").signerKey);
    const opened = openNote(`${text}\n${peterSig}${enochSig}`, [peterVerifier]);
    const cosigned = await signNote(opened.text, [witness], [...opened.signatures, ...opened.unverified]);
    expect(cosigned.startsWith(`${text}\n${peterSig}${enochSig}— witness.example `)).toBe(true);
    const all = openNote(cosigned, [peterVerifier, enochVerifier, NoteVerifier.fromKey(witness.verifierKey)]);
    expect(all.signatures.map((s) => s.name)).toEqual(["PeterNeumann", "EnochRoot", "witness.example"]);
    await expect(signNote(text, [], [{ ...peter, base64: "BADHASH=" }])).rejects.toThrow(
      code("malformed-note"),
    );
    await expect(signNote(text, [], [{ ...peter, name: "a+b" }])).rejects.toThrow(code("malformed-note"));
    expect(await signNote(text, [], [peter])).toBe(`${text}\n${peterSig}`);
  });

  it("rejects a text without a final newline or with control characters, and no signers", async () => {
    const signer = NoteSigner.fromKey(peterSkey);
    await expect(signNote("abc", [signer])).rejects.toThrow(code("malformed-note"));
    await expect(signNote("a\tb\n", [signer])).rejects.toThrow(code("malformed-note"));
    await expect(signNote("a\ud800b\n", [signer])).rejects.toThrow(code("malformed-note"));
    await expect(signNote(text, [])).rejects.toThrow(code("no-signature"));
  });
});

describe("openNote", () => {
  it("verifies Go's published note, keeping signatures by unknown keys as unverified", () => {
    const note = `${text}\n${peterSig}${enochSig}`;
    expect(openNote(note, [peterVerifier])).toEqual({
      text,
      signatures: [peterChecked],
      unverified: [enoch],
    });
    expect(openNote(note, [peterVerifier, enochVerifier])).toEqual({
      text,
      signatures: [peterChecked, enochChecked],
      unverified: [],
    });
    expect(openNote(new TextEncoder().encode(note), [enochVerifier]).signatures).toEqual([enochChecked]);
  });

  it("needs a signature by a known key and names the keys it saw", () => {
    const note = `${text}\n${peterSig}${enochSig}`;
    expect(() => openNote(note, [])).toThrow(code("unknown-key"));
    expect(() => openNote(note, [])).toThrow(/PeterNeumann\+c74f20a3, EnochRoot\+af0cfe78/);
    const other = NoteVerifier.fromKey(generateNoteKey("PeterNeumann").verifierKey);
    expect(() => openNote(`${text}\n${peterSig}`, [other])).toThrow(code("unknown-key"));
  });

  it("treats everything before the last blank line as text", () => {
    // Peter's line becomes part of the text, so only Enoch's (unknown) signature remains.
    expect(() => openNote(`${text}\n${peterSig}\n${enochSig}`, [peterVerifier])).toThrow(code("unknown-key"));
    // Enoch signed only the text, not a text that includes Peter's line.
    expect(() => openNote(`${text}\n${peterSig}\n${enochSig}`, [enochVerifier])).toThrow(
      code("bad-signature"),
    );
  });

  it("ignores repeated signature lines", () => {
    const note = `${text}\n${peterSig}${peterSig}${enochSig}${enochSig}`;
    expect(openNote(note, [peterVerifier])).toEqual({
      text,
      signatures: [peterChecked],
      unverified: [enoch],
    });
    expect(openNote(`${text}\n${peterSig}`, [peterVerifier, peterVerifier]).signatures).toEqual([
      peterChecked,
    ]);
  });

  it("rejects a signature by a known key that does not verify", () => {
    expect(() => openNote(`${text.replace("answer", "answre")}\n${peterSig}`, [peterVerifier])).toThrow(
      code("bad-signature"),
    );
    const flipped = peterSig.replace("x08go/", "x08go+");
    expect(() => openNote(`${text}\n${flipped}`, [peterVerifier])).toThrow(code("bad-signature"));
  });

  it("rejects two different verifier keys with the same name and hash", () => {
    // A forged key reusing Peter's name and hash: only detectable when it is used.
    const forged = Object.create(NoteVerifier.prototype, {
      name: { value: "PeterNeumann" },
      keyHash: { value: 0xc74f20a3 },
      key: { value: "forged" },
    }) as NoteVerifier;
    expect(() => openNote(`${text}\n${peterSig}`, [peterVerifier, forged])).toThrow(code("ambiguous-key"));
    expect(openNote(`${text}\n${enochSig}`, [peterVerifier, forged, enochVerifier]).signatures).toEqual([
      enochChecked,
    ]);
  });

  it.each([
    ["no blank line", `${text}${peterSig}`],
    ["no signatures", `${text}\n`],
    ["signature block without final newline", `${text}\n${peterSig.slice(0, -1)}`],
    ["line without em dash", `${text}\n- PeterNeumann ${peter.base64}\n`],
    ["hyphen instead of em dash", `${text}\n${peterSig.replace("—", "–")}`],
    ["no space before signature", `${text}\n— PeterNeumann\n`],
    ["empty signature", `${text}\n— PeterNeumann \n`],
    ["bad base64", `${text}\n— PeterNeumann ${peter.base64.slice(1)}\n`],
    ["base64 without padding", `${text}\n— PeterNeumann ${peter.base64.replace(/=+$/, "")}\n`],
    ["too short to hold a key hash", `${text}\n— PeterNeumann AAAAAA==\n`],
    ["name with a plus", `${text}\n— Peter+Neumann ${peter.base64}\n`],
    ["empty name", `${text}\n—  ${peter.base64}\n`],
    ["control character", `${text.replace("\n", "\r\n")}\n${peterSig}`],
    ["more than 100 signatures", `${text}\n${peterSig.repeat(101)}`],
  ])("rejects a malformed note: %s", (_, note) => {
    expect(() => openNote(note, [peterVerifier])).toThrow(code("malformed-note"));
  });

  it("rejects bytes that are not UTF-8", () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode(text),
      0xff,
      ...new TextEncoder().encode(`\n\n${peterSig}`),
    ]);
    expect(() => openNote(bytes, [peterVerifier])).toThrow(TlogError);
    expect(() => openNote(bytes, [peterVerifier])).toThrow(code("malformed-note"));
  });

  it("rejects every single-bit change of a signed note", () => {
    const bytes = new TextEncoder().encode(`${text}\n${peterSig}`);
    const opened: string[] = [];
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const changed = bytes.slice();
        changed[i] = (changed[i] as number) ^ (1 << bit);
        try {
          openNote(changed, [peterVerifier]);
          opened.push(`byte ${i} bit ${bit}`);
        } catch (e) {
          expect(e).toBeInstanceOf(TlogError);
        }
      }
    }
    expect(opened).toEqual([]);
  });

  it("round-trips notes signed by several keys", async () => {
    const a = generateNoteKey("log.example/a");
    const b = generateNoteKey("witness.example/b");
    const signers = [NoteSigner.fromKey(a.signerKey), NoteSigner.fromKey(b.signerKey)];
    const note = await signNote("line one\n\nline three after a blank\n", signers);
    const opened = openNote(note, [NoteVerifier.fromKey(b.verifierKey), NoteVerifier.fromKey(a.verifierKey)]);
    expect(opened.text).toBe("line one\n\nline three after a blank\n");
    expect(opened.signatures.map((s) => s.name)).toEqual(["log.example/a", "witness.example/b"]);
  });
});

describe("openNoteAsync", () => {
  const outcome = (run: () => unknown): unknown => {
    try {
      return { value: run() };
    } catch (err) {
      return { code: (err as TlogError).code, message: (err as Error).message };
    }
  };
  const outcomeAsync = async (run: () => Promise<unknown>): Promise<unknown> => {
    try {
      return { value: await run() };
    } catch (err) {
      return { code: (err as TlogError).code, message: (err as Error).message };
    }
  };
  const forgedPeter = Object.create(NoteVerifier.prototype, {
    name: { value: "PeterNeumann" },
    keyHash: { value: 0xc74f20a3 },
    key: { value: "forged" },
  }) as NoteVerifier;

  it.each([
    ["both keys known", `${text}\n${peterSig}${enochSig}`, [peterVerifier, enochVerifier]],
    ["one known, one not", `${text}\n${peterSig}${enochSig}`, [enochVerifier]],
    ["no known key", `${text}\n${peterSig}${enochSig}`, []],
    [
      "first signature bad",
      `${text}\n${peterSig.replace("x08go/", "x08go+")}${enochSig}`,
      [peterVerifier, enochVerifier],
    ],
    [
      "second signature bad",
      `${text}\n${peterSig}${enochSig.replace("rwz+", "rwz/")}`,
      [peterVerifier, enochVerifier],
    ],
    ["text changed", `${text.replace("answer", "answre")}\n${peterSig}`, [peterVerifier]],
    ["ambiguous key", `${text}\n${peterSig}`, [peterVerifier, forgedPeter]],
    ["malformed", `${text}${peterSig}`, [peterVerifier]],
  ])("answers as openNote does: %s", async (_, note, verifiers) => {
    const sync = outcome(() => openNote(note, verifiers));
    expect(await outcomeAsync(() => openNoteAsync(note, verifiers))).toEqual(sync);
  });

  it("opens a note already split, without splitting it again", async () => {
    const note = `${text}\n${peterSig}${enochSig}`;
    const split = splitNote(note);
    expect(await openNoteAsync(split, [peterVerifier])).toEqual(openNote(note, [peterVerifier]));
    expect(openNote(split, [enochVerifier])).toEqual(openNote(note, [enochVerifier]));
  });
});
