// C2SP tlog-checkpoint: the note text "<origin>\n<size>\n<base64 root>\n[extension lines]".

import { isSize } from "./arith.js";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { type Hash, isHash } from "./hash.js";
import { type Signer, type Verifier, openNote, signNote } from "./note.js";

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

/** The signed checkpoint note (C2SP signed-note). */
export function signCheckpoint(cp: Checkpoint, signer: Signer): string {
  return signNote(formatCheckpoint(cp), [signer]);
}

/**
 * Opens a checkpoint note signed by `verifier` whose key name is the checkpoint's origin.
 * Throws TlogError: note errors from openNote, "malformed-checkpoint", or "origin-mismatch".
 */
export function openCheckpoint(note: string | Uint8Array, verifier: Verifier): Checkpoint {
  const { text } = openNote(note, [verifier]);
  const cp = parseCheckpoint(text);
  if (cp.origin !== verifier.name) {
    throw new TlogError(
      "origin-mismatch",
      `checkpoint origin "${cp.origin}" is not the verifier key's name "${verifier.name}"`,
    );
  }
  return cp;
}
