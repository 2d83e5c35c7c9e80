// Ed25519 note keys (ed25519.ts does the curve arithmetic): signers and verifiers of a log's
// checkpoints, and the key operations cosignature.ts shares. The key text format is in
// note-key-text.ts, which the UI's browser build uses alone.

import { generateKeyPairSync } from "node:crypto";
import { encodeBase64 } from "./base64.js";
import { ed25519, rawPublicKey, type Ed25519SigningKey, type Ed25519VerifyingKey } from "./ed25519.js";
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

/**
 * Parses a signer key text ("PRIVATE+KEY+…") of any known algorithm: `signingKey` signs with its
 * seed and `publicKey` is the matching public key. Errors never echo the key.
 */
export function parseSignerKey(
  skey: string,
): KeyText & { signingKey: Ed25519SigningKey; publicKey: Uint8Array } {
  if (typeof skey !== "string" || !skey.startsWith(SIGNER_PREFIX)) {
    throw malformed('signer key does not start with "PRIVATE+KEY+"');
  }
  const parts = splitKey(skey.slice(SIGNER_PREFIX.length), "signer key");
  const signingKey = ed25519.signingKey(parts.key);
  const publicKey = signingKey.publicKey;
  if (noteKeyHash(parts.name, publicKey, parts.alg) !== parts.hash)
    throw malformed(`signer key for "${parts.name}" has a key hash that does not match its key`);
  return { ...parts, signingKey, publicKey };
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
    private readonly key: Ed25519SigningKey,
  ) {}

  /** Parses a "PRIVATE+KEY+…" Ed25519 signer key; throws TlogError("malformed-key") without echoing it. */
  static fromKey(skey: string): NoteSigner {
    const parts = parseSignerKey(skey);
    expectAlg(parts, ALG_ED25519, "signer key");
    return new NoteSigner(
      parts.name,
      parts.hash,
      verifierKeyText(parts.name, parts.publicKey, ALG_ED25519),
      parts.signingKey,
    );
  }

  /** The 64-byte Ed25519 signature of msg (deterministic). */
  sign(msg: Uint8Array): Uint8Array {
    return this.key.sign(msg);
  }
}

/** Checks Ed25519 note signatures (algorithm 1) of one named key. */
export class NoteVerifier implements Verifier {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The key in its text form. */
    readonly key: string,
    private readonly publicKey: Ed25519VerifyingKey,
  ) {}

  /** Parses a "<name>+<hash>+<key>" Ed25519 verifier key; throws TlogError("malformed-key"). */
  static fromKey(vkey: string): NoteVerifier {
    const parts = parseVerifierKey(vkey);
    expectAlg(parts, ALG_ED25519, "verifier key");
    return new NoteVerifier(parts.name, parts.hash, vkey, ed25519.verifyingKey(parts.key));
  }

  /** True if sig is a valid Ed25519 signature of msg by this key. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    return this.publicKey.verify(msg, sig);
  }

  /** verify, on the thread pool. */
  verifyAsync(msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
    return this.publicKey.verifyAsync(msg, sig);
  }
}

/** A fresh Ed25519 note key pair for `name`, as a secret signer key and a public verifier key. */
export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyText(name, ALG_ED25519);
}
