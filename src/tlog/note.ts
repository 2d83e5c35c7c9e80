// C2SP signed notes (Go's sumdb/note format): a UTF-8 text ending in "\n", a blank line, then
// one line per signature: "— <key name> <base64(key hash ‖ signature)>\n" (U+2014 em dash).

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { isValidKeyName, keyId } from "./note-key-text.js";

/** Makes signatures for one key (note-key.ts's NoteSigner is the Ed25519 one). */
export interface Signer {
  readonly name: string;
  readonly keyHash: number;
  sign(msg: Uint8Array): Uint8Array;
}

/**
 * Checks signatures of one key, as Go's note.Verifier. note-key.ts's NoteVerifier is the
 * Ed25519 one; the UI's browser build brings one backed by WebCrypto.
 */
export interface Verifier {
  readonly name: string;
  readonly keyHash: number;
  /** The key in its text form: two verifiers with the same text are the same key. */
  readonly key: string;
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

/** One signature line of a note. */
export interface NoteSignature {
  name: string;
  keyHash: number;
  /** base64(key hash ‖ signature), as on the line. */
  base64: string;
}

export interface OpenedNote {
  text: string;
  /** Signatures by the given verifiers, all checked. */
  signatures: NoteSignature[];
  /** Signatures by keys the caller did not give (witnesses, rotated keys): not checked. */
  unverified: NoteSignature[];
}

const SIG_PREFIX = "\u2014 ";
const MAX_SIGNATURES = 100;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

function malformed(why: string): TlogError {
  return new TlogError("malformed-note", `malformed note: ${why}`);
}

// Valid UTF-8 and no control characters other than newline, as Go's note.Open requires.
function checkNoteChars(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a)
      throw malformed(`control character U+${c.toString(16).padStart(4, "0")} at offset ${i}`);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff))
        throw malformed(`invalid Unicode at offset ${i}`);
      i++;
    }
  }
}

/**
 * Signs `text` (which must end in "\n") with each signer, in order, and returns the note.
 * `existing` signatures (from openNote, e.g. to cosign as a witness) are kept, before the new
 * ones, unless a signer has the same key. Throws TlogError("malformed-note") for a bad text or
 * existing signature and ("no-signature") when the note would carry no signature.
 */
export function signNote(
  text: string,
  signers: readonly Signer[],
  existing: readonly NoteSignature[] = [],
): string {
  if (typeof text !== "string" || !text.endsWith("\n")) throw malformed('text does not end in "\\n"');
  checkNoteChars(text);
  const msg = encoder.encode(text);
  const replaced = new Set(signers.map((s) => keyId(s.name, s.keyHash)));
  const lines: string[] = [];
  for (const sig of existing) {
    if (replaced.has(keyId(sig.name, sig.keyHash))) continue;
    const raw = decodeBase64(sig.base64);
    if (
      !isValidKeyName(sig.name) ||
      !raw ||
      raw.length < 5 ||
      new DataView(raw.buffer, raw.byteOffset).getUint32(0) !== sig.keyHash
    ) {
      throw malformed(`existing signature by ${JSON.stringify(sig.name)} is not a valid signature line`);
    }
    lines.push(`${SIG_PREFIX}${sig.name} ${sig.base64}\n`);
  }
  for (const signer of signers) {
    if (!isValidKeyName(signer.name))
      throw malformed(`signer name ${JSON.stringify(signer.name)} is invalid`);
    const sig = signer.sign(msg);
    const line = new Uint8Array(4 + sig.length);
    new DataView(line.buffer).setUint32(0, signer.keyHash);
    line.set(sig, 4);
    lines.push(`${SIG_PREFIX}${signer.name} ${encodeBase64(line)}\n`);
  }
  if (lines.length === 0) throw new TlogError("no-signature", "a note needs at least one signature");
  return `${text}\n${lines.join("")}`;
}

function verifierIndex(verifiers: readonly Verifier[]): Map<string, Verifier[]> {
  const byKey = new Map<string, Verifier[]>();
  for (const v of verifiers) {
    const id = keyId(v.name, v.keyHash);
    const list = byKey.get(id) ?? [];
    // The same key given twice is harmless; two different keys with one name and hash are not.
    if (!list.some((w) => w.key === v.key)) list.push(v);
    byKey.set(id, list);
  }
  return byKey;
}

/**
 * Parses a signed note and checks its signatures by the given verifiers, with Go's rules.
 * Throws TlogError: "malformed-note" (bad layout, bad base64, bad key name, over 100 signatures),
 * "bad-signature" (a known key's signature does not verify), "ambiguous-key" (two verifiers
 * share a name and key hash), "unknown-key" (no signature by any given key; the message lists
 * the keys that did sign). Repeated signature lines are ignored.
 */
export function openNote(msg: string | Uint8Array, verifiers: readonly Verifier[]): OpenedNote {
  let note: string;
  if (typeof msg === "string") {
    note = msg;
  } else {
    try {
      note = strictDecoder.decode(msg);
    } catch {
      throw malformed("not valid UTF-8");
    }
  }
  checkNoteChars(note);
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformed("no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === "" || !block.endsWith("\n"))
    throw malformed("signature block is empty or does not end in a newline");

  const known = verifierIndex(verifiers);
  const textBytes = encoder.encode(text);
  const signatures: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seenKnown = new Set<string>();
  const seenLines = new Set<string>();
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  lines.forEach((line, i) => {
    const where = `signature line ${i + 1}`;
    if (!line.startsWith(SIG_PREFIX)) throw malformed(`${where} does not start with "— "`);
    const body = line.slice(SIG_PREFIX.length);
    const space = body.indexOf(" ");
    const name = space < 0 ? body : body.slice(0, space);
    const b64 = space < 0 ? "" : body.slice(space + 1);
    if (!isValidKeyName(name)) throw malformed(`${where} has an invalid key name`);
    const raw = decodeBase64(b64);
    if (!raw || raw.length < 5) throw malformed(`${where} is not valid base64 of a key hash and signature`);
    const keyHash = new DataView(raw.buffer, raw.byteOffset).getUint32(0);
    const id = keyId(name, keyHash);
    const candidates = known.get(id);
    if (!candidates) {
      if (!seenLines.has(line)) unverified.push({ name, keyHash, base64: b64 });
      seenLines.add(line);
      return;
    }
    if (candidates.length > 1)
      throw new TlogError("ambiguous-key", `more than one verifier key is named ${id}`);
    if (seenKnown.has(id)) return;
    seenKnown.add(id);
    if (!(candidates[0] as Verifier).verify(textBytes, raw.subarray(4))) {
      throw new TlogError("bad-signature", `invalid signature by key ${id} (${where})`);
    }
    signatures.push({ name, keyHash, base64: b64 });
  });
  if (signatures.length === 0) {
    const seen = unverified.map((s) => keyId(s.name, s.keyHash)).join(", ");
    const wanted = [...known.keys()].join(", ") || "none";
    throw new TlogError(
      "unknown-key",
      `note is not signed by any known key (known: ${wanted}; signed by: ${seen})`,
    );
  }
  return { text, signatures, unverified };
}
