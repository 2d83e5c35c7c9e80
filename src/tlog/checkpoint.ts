// C2SP tlog-checkpoint: the note text "<origin>\n<size>\n<base64 root>\n[extension lines]".

import { isSize } from "./arith.js";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { type Hash, isHash } from "./hash.js";
import { cosignatureTime, isCosignatureVerifier } from "./cosignature-format.js";
import {
  type NoteSignature,
  type OpenedNote,
  type SplitNote,
  type VerifiedSignature,
  openNote,
  openNoteAsync,
  signatureBytes,
  signNote,
  splitNote,
} from "./note.js";
import type { Signer, Verifier } from "./signer.js";

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Hash;
  /** Opaque extension lines after the root, each non-empty, without newlines. */
  extensions: string[];
}

function malformed(why: string): TlogError {
  return new TlogError("malformed-checkpoint", `malformed checkpoint: ${why}`);
}

function checkLine(line: string, what: string): void {
  if (typeof line !== "string" || line === "" || line.includes("\n"))
    throw malformed(`${what} is empty or has a newline`);
}

/** The checkpoint's note text. Throws TlogError("malformed-checkpoint") for a field it cannot hold. */
export function formatCheckpoint(cp: Checkpoint): string {
  checkLine(cp.origin, "origin");
  if (!isSize(cp.size)) throw malformed(`size ${String(cp.size)} is not a non-negative integer`);
  if (!isHash(cp.rootHash)) throw malformed("root hash is not 32 bytes");
  cp.extensions.forEach((e, i) => checkLine(e, `extension line ${i + 1}`));
  return [cp.origin, String(cp.size), encodeBase64(cp.rootHash), ...cp.extensions].join("\n") + "\n";
}

/**
 * Parses checkpoint text strictly: every line ends in "\n", a non-empty origin, a decimal size
 * without leading zeros, a canonical base64 32-byte root, non-empty extension lines.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== "string" || !text.endsWith("\n")) throw malformed('text does not end in "\\n"');
  const [origin, sizeText, rootText, ...extensions] = text.slice(0, -1).split("\n");
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw malformed("fewer than 3 lines (origin, size, root hash)");
  }
  if (origin === "") throw malformed("line 1: origin is empty");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw malformed(`line 2: size ${JSON.stringify(sizeText)} is not a decimal number without leading zeros`);
  }
  const rootHash = decodeBase64(rootText);
  if (!rootHash || !isHash(rootHash)) throw malformed(`line 3: root hash is not base64 of 32 bytes`);
  extensions.forEach((e, i) => {
    if (e === "") throw malformed(`line ${i + 4}: extension line is empty`);
  });
  return { origin, size: Number(sizeText), rootHash, extensions };
}

/**
 * The signed checkpoint note (C2SP signed-note), signed by the log's key. Publishing is this,
 * then any cosignatures collected from witnesses (attachSignatures), then writing the note.
 */
export function signCheckpoint(cp: Checkpoint, signer: Signer): Promise<string> {
  return signNote(formatCheckpoint(cp), [signer]);
}

/** A witness's cosignature on a checkpoint, checked by a CosignatureVerifier. */
export interface Cosignature {
  name: string;
  keyHash: number;
  /** When the witness made it (POSIX seconds). */
  time: number;
}

export interface OpenedCheckpoint extends Checkpoint {
  /** The note text that was signed. */
  text: string;
  /** Every signature checked: the log's, then witnesses' and any other given key's. */
  signatures: VerifiedSignature[];
  /** The checked cosignature/v1 signatures among them. */
  cosignatures: Cosignature[];
  /** Signatures by keys not given: not checked, not trusted. */
  unverified: NoteSignature[];
}

/**
 * Opens a checkpoint note with one or more verifiers: the log's key (a verifier whose name is
 * the checkpoint's origin; with a rotation, several) and any cosigners. It must carry a valid
 * signature by a log key; every signature by a given key must verify; the others are returned
 * unverified. Throws TlogError: note errors from openNote, "malformed-checkpoint", or
 * "origin-mismatch" (no given verifier is named as the origin, or none of those signed).
 */
export function openCheckpoint(
  note: string | Uint8Array | SplitNote,
  verifiers: Verifier | readonly Verifier[],
): OpenedCheckpoint {
  const list: readonly Verifier[] = isVerifierList(verifiers) ? verifiers : [verifiers];
  return checkpointOf(openNote(note, list), list);
}

/** openCheckpoint with the signatures checked off this thread where the keys can (openNoteAsync). */
export async function openCheckpointAsync(
  note: string | Uint8Array | SplitNote,
  verifiers: Verifier | readonly Verifier[],
): Promise<OpenedCheckpoint> {
  const list: readonly Verifier[] = isVerifierList(verifiers) ? verifiers : [verifiers];
  return checkpointOf(await openNoteAsync(note, list), list);
}

function checkpointOf(
  { text, signatures, unverified }: OpenedNote,
  list: readonly Verifier[],
): OpenedCheckpoint {
  const cp = parseCheckpoint(text);
  // A cosignature is a witness's statement, never the log's own signature, whatever its name.
  if (!signatures.some((s) => s.name === cp.origin && !isCosignatureVerifier(s.verifier))) {
    const logKeys = list.filter((v) => v.name === cp.origin);
    throw new TlogError(
      "origin-mismatch",
      logKeys.length === 0
        ? `checkpoint origin "${cp.origin}" is not the name of a given verifier key (${list.map((v) => `"${v.name}"`).join(", ")})`
        : `checkpoint of "${cp.origin}" is not signed by the log's key`,
    );
  }
  return { ...cp, text, signatures, cosignatures: cosignaturesOf(signatures), unverified };
}

function cosignaturesOf(signatures: readonly VerifiedSignature[]): Cosignature[] {
  const out: Cosignature[] = [];
  for (const s of signatures) {
    if (!isCosignatureVerifier(s.verifier)) continue;
    const time = cosignatureTime(signatureBytes(s));
    if (time !== null) out.push({ name: s.name, keyHash: s.keyHash, time });
  }
  return out;
}

/**
 * The valid cosignatures by `cosigners` on a checkpoint whose log signature was checked
 * elsewhere (a read source that pinned the log's key). None is not an error; a bad one is
 * (TlogError "bad-signature"), as are a malformed note or checkpoint.
 */
export function checkpointCosignatures(
  note: string | Uint8Array,
  cosigners: readonly Verifier[],
): { checkpoint: Checkpoint; cosignatures: Cosignature[] } {
  const checkpoint = parseCheckpoint(splitNote(note).text);
  try {
    return { checkpoint, cosignatures: cosignaturesOf(openNote(note, cosigners).signatures) };
  } catch (err) {
    if (err instanceof TlogError && err.code === "unknown-key") return { checkpoint, cosignatures: [] };
    throw err;
  }
}

function isVerifierList(v: Verifier | readonly Verifier[]): v is readonly Verifier[] {
  return Array.isArray(v);
}
