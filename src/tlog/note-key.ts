// Ed25519 note keys over node:crypto: signers and verifiers of a log's checkpoints, and the key
// operations cosignature.ts shares. The key text format is in note-key-text.ts, which the UI's
// browser build uses alone.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { encodeBase64 } from "./base64.js";
import {
  ALG_ED25519,
  expectAlg,
  isValidKeyName,
  keyId,
  malformedKey as malformed,
  noteKeyHash,
  parseVerifierKey,
  SIGNER_PREFIX,
  splitKey,
  verifierKeyText,
  type KeyText,
} from "./note-key-text.js";
import type { Signer, Verifier } from "./signer.js";

export {
  ALG_COSIGNATURE_V1,
  ALG_ED25519,
  isValidKeyName,
  keyId,
  noteKeyHash,
  parseVerifierKey,
  verifierKeyText,
  type KeyText,
} from "./note-key-text.js";

// DER headers that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
/**
 * Parses a signer key text ("PRIVATE+KEY+…") of any known algorithm; `key` is the seed and
 * `publicKey` the matching public key. Errors never echo the key.
 */
export function parseSignerKey(skey: string): KeyText & { privateKey: KeyObject; publicKey: Uint8Array } {
  if (typeof skey !== "string" || !skey.startsWith(SIGNER_PREFIX)) {
    throw malformed('signer key does not start with "PRIVATE+KEY+"');
  }
  const parts = splitKey(skey.slice(SIGNER_PREFIX.length), "signer key");
  const privateKey = privateKeyFromSeed(parts.key);
  const publicKey = rawPublicKey(privateKey);
  if (noteKeyHash(parts.name, publicKey, parts.alg) !== parts.hash)
    throw malformed(`signer key for "${parts.name}" has a key hash that does not match its key`);
  return { ...parts, privateKey, publicKey };
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** The node:crypto public key object of a raw 32-byte Ed25519 key. */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
}

/** The 64-byte Ed25519 signature of msg (deterministic). */
export function ed25519Sign(privateKey: KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, msg, privateKey));
}

/** Whether sig is a valid Ed25519 signature of msg; false, never a throw, for anything malformed. */
export function ed25519Verify(publicKey: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  try {
    return verify(null, msg, publicKey, sig);
  } catch {
    return false;
  }
}

// The asynchronous forms run on libuv's thread pool (node:crypto does so when given a
// callback): a server checking and making signatures for many requests keeps its event loop
// for the network and uses the other cores for the curve arithmetic.

/** ed25519Sign on the thread pool. */
export function ed25519SignAsync(privateKey: KeyObject, msg: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    sign(null, msg, privateKey, (err, sig) => (err ? reject(err) : resolve(new Uint8Array(sig)))),
  );
}

/** ed25519Verify on the thread pool: false, never a rejection, for anything malformed. */
export function ed25519VerifyAsync(publicKey: KeyObject, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (sig.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify(null, msg, publicKey, sig, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

/** A fresh Ed25519 key pair for `name` and algorithm `alg`, as signer and verifier key texts. */
export function generateKeyText(name: string, alg: number): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name))
    throw malformed(`key name ${JSON.stringify(name)} is empty or has spaces or "+"`);
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  const publicKey = rawPublicKey(privateKey);
  return {
    signerKey: `${SIGNER_PREFIX}${keyId(name, noteKeyHash(name, publicKey, alg))}+${encodeBase64(Uint8Array.of(alg, ...seed))}`,
    verifierKey: verifierKeyText(name, publicKey, alg),
  };
}

/** Signs notes with an Ed25519 key (algorithm 1): a log's checkpoint key. The private key stays in this object. */
export class NoteSigner implements Signer {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The matching verifier key, safe to publish. */
    readonly verifierKey: string,
    private readonly privateKey: KeyObject,
  ) {}

  /** Parses a "PRIVATE+KEY+…" Ed25519 signer key; throws TlogError("malformed-key") without echoing it. */
  static fromKey(skey: string): NoteSigner {
    const parts = parseSignerKey(skey);
    expectAlg(parts, ALG_ED25519, "signer key");
    return new NoteSigner(
      parts.name,
      parts.hash,
      verifierKeyText(parts.name, parts.publicKey, ALG_ED25519),
      parts.privateKey,
    );
  }

  /** The 64-byte Ed25519 signature of msg (deterministic). */
  sign(msg: Uint8Array): Uint8Array {
    return ed25519Sign(this.privateKey, msg);
  }
}

/** Checks Ed25519 note signatures (algorithm 1) of one named key. */
export class NoteVerifier implements Verifier {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The key in its text form. */
    readonly key: string,
    private readonly publicKey: KeyObject,
  ) {}

  /** Parses a "<name>+<hash>+<key>" Ed25519 verifier key; throws TlogError("malformed-key"). */
  static fromKey(vkey: string): NoteVerifier {
    const parts = parseVerifierKey(vkey);
    expectAlg(parts, ALG_ED25519, "verifier key");
    return new NoteVerifier(parts.name, parts.hash, vkey, ed25519PublicKey(parts.key));
  }

  /** True if sig is a valid Ed25519 signature of msg by this key. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    return ed25519Verify(this.publicKey, msg, sig);
  }

  /** verify, on the thread pool. */
  verifyAsync(msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
    return ed25519VerifyAsync(this.publicKey, msg, sig);
  }
}

/** A fresh Ed25519 note key pair for `name`, as a secret signer key and a public verifier key. */
export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyText(name, ALG_ED25519);
}
