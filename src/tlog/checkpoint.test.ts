import { describe, expect, it } from "vitest";
import { decodeBase64 } from "./base64.js";
import {
  type Checkpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
import { type Hash } from "./hash.js";
import { NoteSigner, NoteVerifier, generateNoteKey } from "./note-key.js";
import { openNote, signNote } from "./note.js";
import { rootFromLeafHashes } from "./tree.js";
import { testLeaves } from "./testdata/helpers.js";

const code = (c: string) => expect.objectContaining({ code: c });

// The example checkpoint text of the C2SP tlog-checkpoint specification.
const specText = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

describe("checkpoint text", () => {
  it("parses the C2SP example and formats it back byte for byte", () => {
    const cp = parseCheckpoint(specText);
    expect(cp.origin).toBe("example.com/behind-the-sofa");
    expect(cp.size).toBe(20852163);
    expect(Buffer.from(cp.rootHash).toString("base64")).toBe("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    expect(cp.extensions).toEqual([]);
    expect(formatCheckpoint(cp)).toBe(specText);
  });

  it("keeps extension lines", () => {
    const text = `${specText}ext one\nanother ext\n`;
    const cp = parseCheckpoint(text);
    expect(cp.extensions).toEqual(["ext one", "another ext"]);
    expect(formatCheckpoint(cp)).toBe(text);
  });

  it("accepts size 0 and the largest safe size", () => {
    expect(parseCheckpoint("o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n").size).toBe(0);
    expect(
      parseCheckpoint(`o\n${Number.MAX_SAFE_INTEGER}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n`).size,
    ).toBe(Number.MAX_SAFE_INTEGER);
  });

  const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
  it.each([
    ["no final newline", `o\n1\n${root}`],
    ["two lines", "o\n1\n"],
    ["empty origin", `\n1\n${root}\n`],
    ["leading zero", `o\n01\n${root}\n`],
    ["negative size", `o\n-1\n${root}\n`],
    ["plus sign", `o\n+1\n${root}\n`],
    ["hex size", `o\n0x10\n${root}\n`],
    ["size with space", `o\n 1\n${root}\n`],
    ["size beyond 2^53", `o\n9007199254740993\n${root}\n`],
    ["empty size", `o\n\n${root}\n`],
    ["short root", `o\n1\n${root.slice(4)}\n`],
    ["root without padding", `o\n1\n${root.slice(0, -1)}\n`],
    ["root in base64url", `o\n1\n${root.replace("/", "_")}\n`],
    ["root of 33 bytes", `o\n1\n${Buffer.alloc(33).toString("base64")}\n`],
    ["empty extension line", `o\n1\n${root}\n\n`],
    ["CRLF", `o\r\n1\r\n${root}\r\n`],
  ])("rejects %s", (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(code("malformed-checkpoint"));
  });

  it("refuses to format fields it cannot hold", () => {
    const ok: Checkpoint = { origin: "o", size: 1, rootHash: decodeBase64(root) as Hash, extensions: [] };
    expect(() => formatCheckpoint({ ...ok, origin: "" })).toThrow(code("malformed-checkpoint"));
    expect(() => formatCheckpoint({ ...ok, origin: "a\nb" })).toThrow(code("malformed-checkpoint"));
    expect(() => formatCheckpoint({ ...ok, size: -1 })).toThrow(code("malformed-checkpoint"));
    expect(() => formatCheckpoint({ ...ok, size: 1.5 })).toThrow(code("malformed-checkpoint"));
    expect(() => formatCheckpoint({ ...ok, rootHash: new Uint8Array(31) })).toThrow(
      code("malformed-checkpoint"),
    );
    expect(() => formatCheckpoint({ ...ok, extensions: [""] })).toThrow(code("malformed-checkpoint"));
  });
});

describe("signed checkpoints", () => {
  const keys = generateNoteKey("kubetrail.example/audit");
  const signer = NoteSigner.fromKey(keys.signerKey);
  const verifier = NoteVerifier.fromKey(keys.verifierKey);
  const cp: Checkpoint = {
    origin: "kubetrail.example/audit",
    size: 5,
    rootHash: rootFromLeafHashes(testLeaves(5)),
    extensions: [],
  };

  it("round-trip through sign and open", async () => {
    const note = await signCheckpoint(cp, signer);
    expect(note.startsWith(formatCheckpoint(cp) + "\n— kubetrail.example/audit ")).toBe(true);
    expect(openCheckpoint(note, verifier)).toMatchObject(cp);
    expect(openCheckpoint(new TextEncoder().encode(note), verifier)).toMatchObject(cp);
  });

  it("accept signatures by other keys (witnesses) without checking them", async () => {
    const witness = NoteSigner.fromKey(generateNoteKey("witness.example").signerKey);
    const note = await signNote(formatCheckpoint(cp), [signer, witness]);
    expect(openCheckpoint(note, verifier)).toMatchObject(cp);
    expect(openNote(note, [verifier]).unverified.map((s) => s.name)).toEqual(["witness.example"]);
  });

  it("reject a changed size or root, another key and a key named for another origin", async () => {
    const note = await signCheckpoint(cp, signer);
    expect(() => openCheckpoint(note.replace("\n5\n", "\n6\n"), verifier)).toThrow(code("bad-signature"));
    const otherRoot = Buffer.from(rootFromLeafHashes(testLeaves(4))).toString("base64");
    const swapped = note.replace(Buffer.from(cp.rootHash).toString("base64"), otherRoot);
    expect(() => openCheckpoint(swapped, verifier)).toThrow(code("bad-signature"));
    const stranger = NoteVerifier.fromKey(generateNoteKey("kubetrail.example/audit").verifierKey);
    expect(() => openCheckpoint(note, stranger)).toThrow(code("unknown-key"));

    const mislabeled = generateNoteKey("other.example/log");
    const foreign = await signCheckpoint(cp, NoteSigner.fromKey(mislabeled.signerKey));
    expect(() => openCheckpoint(foreign, NoteVerifier.fromKey(mislabeled.verifierKey))).toThrow(
      code("origin-mismatch"),
    );
  });

  it("reject a well-signed note whose text is not a checkpoint", async () => {
    const note = await signNote("kubetrail.example/audit\nnot a size\n", [signer]);
    expect(() => openCheckpoint(note, verifier)).toThrow(code("malformed-checkpoint"));
  });
});
