// C2SP signed notes (Go's sumdb/note format): a UTF-8 text ending in "\n", a blank line, then
// one line per signature: "— <key name> <base64(key hash ‖ signature)>\n" (U+2014 em dash).
// Signing and checking go through the Signer and Verifier interfaces (signer.ts), so a note
// can carry the log's signature and witnesses' cosignatures side by side.

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { isValidKeyName, keyId } from "./note-key-text.js";
import type { Signer, Verifier } from "./signer.js";

export { isValidKeyName, noteKeyHash } from "./note-key-text.js";

/** One signature line of a note. */
export interface NoteSignature {
  name: string;
  keyHash: number;
  /** base64(key hash ‖ signature), as on the line. */
  base64: string;
}

/** A signature checked by one of the verifiers given to openNote. */
export interface VerifiedSignature extends NoteSignature {
  verifier: Verifier;
}

export interface OpenedNote {
  text: string;
  /** Signatures by the given verifiers, all checked, in the order of their lines. */
  signatures: VerifiedSignature[];
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

/** The signature bytes of a line: what follows the key hash. */
export function signatureBytes(sig: NoteSignature): Uint8Array {
  const raw = decodeBase64(sig.base64);
  if (!raw || raw.length < 5) throw malformed(`signature by ${JSON.stringify(sig.name)} is not valid base64`);
  return raw.subarray(4);
}

function signatureLine(sig: NoteSignature): string {
  const raw = decodeBase64(sig.base64);
  if (
    !isValidKeyName(sig.name) ||
    !raw ||
    raw.length < 5 ||
    new DataView(raw.buffer, raw.byteOffset).getUint32(0) !== sig.keyHash
  ) {
    throw malformed(`signature by ${JSON.stringify(sig.name)} is not a valid signature line`);
  }
  return formatLine(sig);
}

function formatLine(sig: NoteSignature): string {
  return `${SIG_PREFIX}${sig.name} ${sig.base64}\n`;
}

function checkText(text: string): void {
  if (typeof text !== "string" || !text.endsWith("\n")) throw malformed('text does not end in "\\n"');
  checkNoteChars(text);
}

/** One signer's signature line for `msg`; a signer that fails is a TlogError("sign-failed") with its cause. */
async function signLine(signer: Signer, msg: Uint8Array): Promise<NoteSignature> {
  if (!isValidKeyName(signer.name)) throw malformed(`signer name ${JSON.stringify(signer.name)} is invalid`);
  let sig: Uint8Array;
  try {
    sig = await signer.sign(msg);
  } catch (err) {
    throw new TlogError("sign-failed", `signer ${keyId(signer.name, signer.keyHash)} failed to sign`, {
      cause: err,
    });
  }
  const line = new Uint8Array(4 + sig.length);
  new DataView(line.buffer).setUint32(0, signer.keyHash);
  line.set(sig, 4);
  return { name: signer.name, keyHash: signer.keyHash, base64: encodeBase64(line) };
}

/**
 * Signs `text` (which must end in "\n") with each signer, in order, and returns the note.
 * `existing` signatures (from openNote or splitNote, e.g. to cosign as a witness) are kept,
 * before the new ones, unless a signer has the same key. Throws TlogError("malformed-note")
 * for a bad text or existing signature, ("sign-failed") when a signer fails and
 * ("no-signature") when the note would carry no signature.
 */
export async function signNote(
  text: string,
  signers: readonly Signer[],
  existing: readonly NoteSignature[] = [],
): Promise<string> {
  return (await signNoteWith(text, signers, existing)).note;
}

/** signNote, also returning the signatures the signers made (a witness answers with its own). */
export async function signNoteWith(
  text: string,
  signers: readonly Signer[],
  existing: readonly NoteSignature[] = [],
): Promise<{ note: string; added: NoteSignature[] }> {
  checkText(text);
  const msg = encoder.encode(text);
  const replaced = new Set(signers.map((s) => keyId(s.name, s.keyHash)));
  const lines = existing.filter((s) => !replaced.has(keyId(s.name, s.keyHash))).map(signatureLine);
  const added: NoteSignature[] = [];
  for (const signer of signers) {
    const sig = await signLine(signer, msg);
    added.push(sig);
    // signLine checked the name and built the line from the key hash: nothing to decode again.
    lines.push(formatLine(sig));
  }
  if (lines.length === 0) throw new TlogError("no-signature", "a note needs at least one signature");
  return { note: `${text}\n${lines.join("")}`, added };
}

/**
 * Adds signature lines made elsewhere (witnesses' cosignatures) to a signed note, after its
 * own, leaving out any by a key the note already carries. Nothing is verified here: that is
 * openNote's job, for whoever reads the note.
 */
export function attachSignatures(note: string, signatures: readonly NoteSignature[]): string {
  const { text, signatures: own } = splitNote(note);
  const present = new Set(own.map((s) => keyId(s.name, s.keyHash)));
  const added = signatures.filter((s) => {
    const id = keyId(s.name, s.keyHash);
    if (present.has(id)) return false;
    present.add(id);
    return true;
  });
  if (own.length + added.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  return `${text}\n${[...own, ...added].map(signatureLine).join("")}`;
}

/** The signature a line holds, or what is wrong with it. */
function readSignatureLine(line: string): NoteSignature | string {
  if (!line.startsWith(SIG_PREFIX)) return 'does not start with "— "';
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(" ");
  const name = space < 0 ? rest : rest.slice(0, space);
  const b64 = space < 0 ? "" : rest.slice(space + 1);
  if (!isValidKeyName(name)) return "has an invalid key name";
  const raw = decodeBase64(b64);
  if (!raw || raw.length < 5) return "is not valid base64 of a key hash and signature";
  return { name, keyHash: new DataView(raw.buffer, raw.byteOffset).getUint32(0), base64: b64 };
}

/**
 * Parses one signature line ("— <name> <base64>", with or without its newline), e.g. a
 * witness's answer. Throws TlogError("malformed-note").
 */
export function parseSignatureLine(line: string): NoteSignature {
  const sig = readSignatureLine(line.endsWith("\n") ? line.slice(0, -1) : line);
  if (typeof sig === "string") throw malformed(`signature line ${sig}`);
  return sig;
}

/**
 * A note's text and signature lines, checked for layout only (Go's rules: valid UTF-8, no
 * control characters, at most 100 signatures), none verified. Throws TlogError("malformed-note").
 */
export function splitNote(msg: string | Uint8Array): { text: string; signatures: NoteSignature[] } {
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
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => {
    const sig = readSignatureLine(line);
    if (typeof sig === "string") throw malformed(`signature line ${i + 1} ${sig}`);
    return sig;
  });
  return { text, signatures };
}

function verifierIndex(verifiers: readonly Verifier[]): Map<string, Verifier[]> {
  const byKey = new Map<string, Verifier[]>();
  for (const v of verifiers) {
    const id = keyId(v.name, v.keyHash);
    const list = byKey.get(id) ?? [];
    // The same key given twice is harmless; two different keys with one name and hash are not.
    if (!list.some((w) => w === v || (w.key !== undefined && w.key === v.key))) list.push(v);
    byKey.set(id, list);
  }
  return byKey;
}

/** A note split by splitNote: its text and signature lines, none checked yet. */
export interface SplitNote {
  text: string;
  signatures: NoteSignature[];
}

interface SignatureCheck {
  sig: NoteSignature;
  verifier: Verifier;
  /** 1-based line in the signature block, for the error. */
  line: number;
}

/** Which lines openNote must check (one per known key) and which it leaves unverified. */
function planChecks(
  lines: readonly NoteSignature[],
  verifiers: readonly Verifier[],
): { checks: SignatureCheck[]; unverified: NoteSignature[]; known: Map<string, Verifier[]> } {
  const known = verifierIndex(verifiers);
  const checks: SignatureCheck[] = [];
  const unverified: NoteSignature[] = [];
  const seenKnown = new Set<string>();
  const seenLines = new Set<string>();
  lines.forEach((sig, i) => {
    const id = keyId(sig.name, sig.keyHash);
    const candidates = known.get(id);
    if (!candidates) {
      const line = `${id} ${sig.base64}`;
      if (!seenLines.has(line)) unverified.push(sig);
      seenLines.add(line);
      return;
    }
    if (candidates.length > 1)
      throw new TlogError("ambiguous-key", `more than one verifier key is named ${id}`);
    if (seenKnown.has(id)) return;
    seenKnown.add(id);
    checks.push({ sig, verifier: candidates[0]!, line: i + 1 });
  });
  return { checks, unverified, known };
}

/** The opened note once every check in `checks` gave `results` (in order). */
function openedNote(
  text: string,
  plan: ReturnType<typeof planChecks>,
  results: readonly boolean[],
): OpenedNote {
  const signatures: VerifiedSignature[] = [];
  plan.checks.forEach(({ sig, verifier, line }, i) => {
    if (!results[i]) {
      throw new TlogError(
        "bad-signature",
        `invalid signature by key ${keyId(sig.name, sig.keyHash)} (signature line ${line})`,
      );
    }
    signatures.push({ ...sig, verifier });
  });
  if (signatures.length === 0) {
    const seen = plan.unverified.map((s) => keyId(s.name, s.keyHash)).join(", ");
    const wanted = [...plan.known.keys()].join(", ") || "none";
    throw new TlogError(
      "unknown-key",
      `note is not signed by any known key (known: ${wanted}; signed by: ${seen})`,
    );
  }
  return { text, signatures, unverified: plan.unverified };
}

const splitOf = (msg: string | Uint8Array | SplitNote): SplitNote =>
  typeof msg === "string" || msg instanceof Uint8Array ? splitNote(msg) : msg;

/**
 * Parses a signed note and checks its signatures by the given verifiers, with Go's rules.
 * Throws TlogError: "malformed-note" (bad layout, bad base64, bad key name, over 100 signatures),
 * "bad-signature" (a known key's signature does not verify), "ambiguous-key" (two verifiers
 * share a name and key hash), "unknown-key" (no signature by any given key; the message lists
 * the keys that did sign). Repeated signature lines are ignored. A note already split by
 * splitNote is not split again.
 */
export function openNote(msg: string | Uint8Array | SplitNote, verifiers: readonly Verifier[]): OpenedNote {
  const { text, signatures: lines } = splitOf(msg);
  const plan = planChecks(lines, verifiers);
  const textBytes = encoder.encode(text);
  const results: boolean[] = [];
  // Checked in line order, stopping at the first bad one.
  for (const { sig, verifier } of plan.checks) {
    const ok = verifier.verify(textBytes, signatureBytes(sig));
    results.push(ok);
    if (!ok) break;
  }
  return openedNote(text, plan, results);
}

/**
 * openNote with the signatures checked concurrently, off this thread where the verifier can
 * (Verifier.verifyAsync): the same answers and errors.
 */
export async function openNoteAsync(
  msg: string | Uint8Array | SplitNote,
  verifiers: readonly Verifier[],
): Promise<OpenedNote> {
  const { text, signatures: lines } = splitOf(msg);
  const plan = planChecks(lines, verifiers);
  const textBytes = encoder.encode(text);
  const results = await Promise.all(
    plan.checks.map(({ sig, verifier }) =>
      verifier.verifyAsync
        ? verifier.verifyAsync(textBytes, signatureBytes(sig))
        : verifier.verify(textBytes, signatureBytes(sig)),
    ),
  );
  return openedNote(text, plan, results);
}
