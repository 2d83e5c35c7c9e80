import { describe, expect, it } from "vitest";
import { formatCheckpoint, generateNoteKey, NoteSigner, signNote } from "../tlog/index.js";
import { ClientError } from "./errors.js";
import { trustCheckpoint } from "./proven.js";

const ORIGIN = "rotation.test/log";
const body = formatCheckpoint({ origin: ORIGIN, size: 3, rootHash: new Uint8Array(32), extensions: [] });

function refusal(note: string, pinned: string): string {
  try {
    trustCheckpoint(note, pinned, "https://kubetrail.test/v1/events");
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError);
    return (err as Error).message;
  }
  throw new Error("the checkpoint was trusted");
}

describe("a checkpoint the pinned key did not sign", () => {
  const old = generateNoteKey(ORIGIN);
  const next = generateNoteKey(ORIGIN);
  const other = generateNoteKey("other.test/log");

  it("is trusted when the pinned key signed it", async () => {
    const note = await signNote(body, [NoteSigner.fromKey(old.signerKey)]);
    expect(trustCheckpoint(note, old.verifierKey, "here").size).toBe(3);
  });

  it("signed by another key of the same log: refused, saying how to check a rotation", async () => {
    const note = await signNote(body, [NoteSigner.fromKey(next.signerKey)]);
    const message = refusal(note, old.verifierKey);
    const nextId = next.verifierKey.split("+").slice(0, 2).join("+");
    expect(message).toContain(`it is signed by another key of the same log, ${nextId}`);
    expect(message).toContain("kubetrail verify URL/log/ --key <the key you pinned>");
  });

  it("signed by another log's key: refused, with no word of a rotation", async () => {
    const note = await signNote(body.replace(ORIGIN, "other.test/log"), [
      NoteSigner.fromKey(other.signerKey),
    ]);
    const message = refusal(note, old.verifierKey);
    expect(message).toContain("not signed by the pinned key");
    expect(message).not.toContain("rotated");
  });
});
