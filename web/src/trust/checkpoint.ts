// Checking a checkpoint in the browser: the Ed25519 signature with WebCrypto, everything else
// (note layout, key names and hashes, checkpoint text, origin) with the project's own tlog,
// exactly as `kubetrail verify` does. tlog's note rules call a synchronous verifier and
// WebCrypto answers asynchronously, so the rules run twice: first with a verifier that only
// records what it is asked to check, then, once WebCrypto has answered, with the verdicts.
import { decodeBase64, encodeBase64 } from "../../../src/tlog/base64.js";
import { openCheckpoint, parseCheckpoint, type Checkpoint } from "../../../src/tlog/checkpoint.js";
import { verifyConsistency } from "../../../src/tlog/tree.js";
import { TlogError } from "../../../src/tlog/errors.js";
import { ALG_ED25519, expectAlg, parseVerifierKey } from "../../../src/tlog/note-key-text.js";
import type { Verifier } from "../../../src/tlog/signer.js";

export type { Checkpoint };

/** Why trust was refused, in words that name what failed. */
export class TrustError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "TrustError";
  }
}

function asTrustError(err: unknown, what: string): TrustError {
  if (err instanceof TlogError) return new TrustError(err.code, `${what}: ${err.message}`);
  return new TrustError("error", `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

async function ed25519Verify(
  key: CryptoKey,
  sig: Uint8Array<ArrayBuffer>,
  msg: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  if (sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
  } catch {
    return false;
  }
}

/**
 * The checkpoint `note` opened with verifier key `vkey`: its signature checked by WebCrypto and
 * its text by tlog's openCheckpoint. Throws TrustError naming what failed (a malformed key, a
 * note not signed by that key, a bad signature, an origin that is not the key's name).
 */
export async function verifyCheckpoint(note: string, vkey: string): Promise<Checkpoint> {
  let key;
  try {
    key = parseVerifierKey(vkey.trim());
    expectAlg(key, ALG_ED25519, "verifier key");
  } catch (err) {
    throw asTrustError(err, "the verifier key");
  }
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(key.key),
    { name: "Ed25519" },
    false,
    ["verify"],
  );
  const asked: { msg: Uint8Array<ArrayBuffer>; sig: Uint8Array<ArrayBuffer> }[] = [];
  const recorder: Verifier = {
    name: key.name,
    keyHash: key.hash,
    key: vkey,
    verify(msg, sig) {
      asked.push({ msg: new Uint8Array(msg), sig: new Uint8Array(sig) });
      return true;
    },
  };
  try {
    openCheckpoint(note, recorder);
  } catch (err) {
    throw asTrustError(err, "the checkpoint is refused");
  }
  const verdicts = new Map<string, boolean>();
  for (const a of asked) verdicts.set(encodeBase64(a.sig), await ed25519Verify(cryptoKey, a.sig, a.msg));
  const checker: Verifier = {
    name: key.name,
    keyHash: key.hash,
    key: vkey,
    verify: (msg, sig) =>
      verdicts.get(encodeBase64(sig)) === true &&
      asked.some((a) => sameBytes(a.msg, msg) && sameBytes(a.sig, sig)),
  };
  try {
    return openCheckpoint(note, checker);
  } catch (err) {
    throw asTrustError(err, "the checkpoint is refused");
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The checkpoint's claims, unverified: what the server says, to show beside a refusal. */
export function claimedCheckpoint(note: string): Checkpoint | undefined {
  try {
    return parseCheckpoint(note.slice(0, note.lastIndexOf("\n\n") + 1));
  } catch {
    return undefined;
  }
}

/**
 * True when the tree of `older` is a prefix of the tree of `newer`, by the consistency proof
 * (base64 hashes) the server gave: the log only grew since this browser saw `older`.
 */
export function provesGrowth(
  older: { size: number; rootHash: string },
  newer: Checkpoint,
  proof: readonly string[],
): boolean {
  const oldRoot = decodeBase64(older.rootHash);
  const hashes = proof.map(decodeBase64);
  if (oldRoot === null || hashes.some((h) => h === null)) return false;
  return verifyConsistency(older.size, newer.size, hashes as Uint8Array[], oldRoot, newer.rootHash);
}
