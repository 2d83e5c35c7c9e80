// Checking what a source hands back: a checkpoint against the pinned verifier key, an entry's
// bytes against its inclusion proof and that checkpoint's root. Whatever fails is an error
// naming the entry, never output.
import { parsedEntry } from "../index/row.js";
import {
  hashLeaf,
  hashesEqual,
  keyId,
  NoteVerifier,
  openCheckpoint,
  splitNote,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from "../tlog/index.js";
import { ClientError } from "./errors.js";
import type { ProvenEntry, TrustedCheckpoint } from "./source.js";

/** Opens a checkpoint note with the pinned key; ClientError("forged") when it does not verify. */
export function trustCheckpoint(note: string, verifierKey: string, where: string): TrustedCheckpoint {
  let verifier: NoteVerifier;
  try {
    verifier = NoteVerifier.fromKey(verifierKey);
  } catch (err) {
    throw new ClientError("config", `verifier key: ${(err as Error).message}`, { cause: err });
  }
  try {
    const cp = openCheckpoint(note, verifier);
    return { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note };
  } catch (err) {
    throw new ClientError(
      "forged",
      `${where}: the checkpoint is not signed by the pinned key "${verifier.name}" (${(err as Error).message})` +
        rotationHint(note, verifier),
      { cause: err },
    );
  }
}

/**
 * After `kubetrail keys rotate --finish` the log's checkpoints carry only the new key, which a
 * client that pinned the old one refuses, as it must. When the note is signed by another key
 * of the same name, say what that may mean and how to check it before pinning anything new.
 */
function rotationHint(note: string, pinned: NoteVerifier): string {
  let others: string[];
  try {
    others = splitNote(note)
      .signatures.filter((s) => s.name === pinned.name && s.keyHash !== pinned.keyHash)
      .map((s) => keyId(s.name, s.keyHash));
  } catch {
    return "";
  }
  if (others.length === 0) return "";
  return (
    `; it is signed by another key of the same log, ${others.join(", ")}: if the log rotated its key ` +
    "(kubetrail keys rotate), `kubetrail verify URL/log/ --key <the key you pinned>` checks the rotation " +
    "the log records, and then pin the new key (kubetrail keys prints it)"
  );
}

/** The entry, parsed, once its bytes are proven included in `cp`'s tree; "forged" otherwise. */
export function proveEntry(
  index: number,
  data: Uint8Array,
  proof: Hash[],
  cp: TrustedCheckpoint,
): ProvenEntry {
  const leaf = hashLeaf(data);
  if (index >= cp.size || !verifyInclusion(leaf, index, cp.size, proof, cp.rootHash)) {
    throw new ClientError(
      "forged",
      `entry ${index}: its inclusion proof does not verify against the signed checkpoint of size ${cp.size}` +
        " (the entry or its proof was altered)",
    );
  }
  const { row, value } = parsedEntry(index, data, leaf);
  return { row, data, value, proof };
}

/**
 * Checks that `newer` extends `older` (same log, only grown). Throws "rollback" when it is
 * smaller or, at the same size, has another root, and "forged" when the proof fails.
 */
export function checkExtends(older: TrustedCheckpoint, newer: TrustedCheckpoint, proof: Hash[]): void {
  if (newer.size < older.size) {
    throw new ClientError(
      "rollback",
      `the server's checkpoint (size ${newer.size}) is older than one this client already verified` +
        ` (size ${older.size}): the log was rolled back or forked`,
    );
  }
  if (newer.size === older.size) {
    if (!hashesEqual(newer.rootHash, older.rootHash))
      throw new ClientError(
        "rollback",
        `the server's checkpoint of size ${newer.size} has another root than the one this client verified: the log was forked`,
      );
    return;
  }
  if (!verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash)) {
    throw new ClientError(
      "forged",
      `the log of size ${newer.size} is not an extension of the one of size ${older.size} this client verified before` +
        " (consistency proof fails): the log was rewritten",
    );
  }
}
