// Ed25519 signer and verifier keys for signed notes, over node:crypto. The key text format
// (names, key hashes, parsing) is in note-key-text.ts, which the browser build uses alone.

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
  isValidKeyName,
  keyId,
  malformedKey as malformed,
  noteKeyHash,
  parseVerifierKey,
  splitKey,
  verifierKeyText,
} from "./note-key-text.js";

export { isValidKeyName, noteKeyHash } from "./note-key-text.js";

// DER headers that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** Signs notes with an Ed25519 key. The private key never leaves this object's closure. */
export class NoteSigner {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The matching verifier key, safe to publish. */
    readonly verifierKey: string,
    private readonly signWith: (msg: Uint8Array) => Uint8Array,
  ) {}

  /** Parses a "PRIVATE+KEY+…" signer key; throws TlogError("malformed-key") without echoing it. */
  static fromKey(skey: string): NoteSigner {
    if (typeof skey !== "string" || !skey.startsWith("PRIVATE+KEY+")) {
      throw malformed('signer key does not start with "PRIVATE+KEY+"');
    }
    const { name, hash, key: seed } = splitKey(skey.slice("PRIVATE+KEY+".length), "signer key");
    const privateKey = privateKeyFromSeed(seed);
    const publicKey = rawPublicKey(privateKey);
    if (noteKeyHash(name, publicKey) !== hash)
      throw malformed(`signer key for "${name}" has a key hash that does not match its key`);
    return new NoteSigner(
      name,
      hash,
      verifierKeyText(name, publicKey),
      (msg) => new Uint8Array(sign(null, msg, privateKey)),
    );
  }

  /** The 64-byte Ed25519 signature of msg (deterministic). */
  sign(msg: Uint8Array): Uint8Array {
    return this.signWith(msg);
  }
}

/** Checks Ed25519 signatures of one named key. */
export class NoteVerifier {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The key in its text form. */
    readonly key: string,
    private readonly publicKey: KeyObject,
  ) {}

  /** Parses a "<name>+<hash>+<key>" verifier key; throws TlogError("malformed-key"). */
  static fromKey(vkey: string): NoteVerifier {
    const { name, keyHash: hash, publicKey: key } = parseVerifierKey(vkey);
    const publicKey = createPublicKey({
      key: Buffer.concat([SPKI_ED25519, key]),
      format: "der",
      type: "spki",
    });
    return new NoteVerifier(name, hash, vkey, publicKey);
  }

  /** True if sig is a valid Ed25519 signature of msg by this key. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    if (sig.length !== 64) return false;
    try {
      return verify(null, msg, this.publicKey, sig);
    } catch {
      return false;
    }
  }
}

/** A fresh Ed25519 key pair for `name`, as a secret signer key and a public verifier key. */
export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name))
    throw malformed(`key name ${JSON.stringify(name)} is empty or has spaces or "+"`);
  const { privateKey } = generateKeyPairSync("ed25519");
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  const publicKey = rawPublicKey(privateKey);
  return {
    signerKey: `PRIVATE+KEY+${keyId(name, noteKeyHash(name, publicKey))}+${encodeBase64(Uint8Array.of(ALG_ED25519, ...seed))}`,
    verifierKey: verifierKeyText(name, publicKey),
  };
}
