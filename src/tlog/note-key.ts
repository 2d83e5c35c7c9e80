// Ed25519 signer and verifier keys in the Go sumdb/note (C2SP signed-note) text encoding:
//   verifier: <name>+<hash8hex>+<base64(0x01 ‖ public key)>
//   signer:   PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 ‖ seed)>
// where hash = the first 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";

const ALG_ED25519 = 0x01;
// DER headers that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

// Unicode white space as Go's unicode.IsSpace sees it (JavaScript's \s also matches U+FEFF).
const SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A key name must be non-empty valid Unicode without white space or "+". */
export function isValidKeyName(name: string): boolean {
  return name !== "" && !SPACE.test(name) && !name.includes("+") && !LONE_SURROGATE.test(name);
}

/** The 32-bit key hash identifying a key in signature lines; publicKey is the raw 32-byte Ed25519 key. */
export function noteKeyHash(name: string, publicKey: Uint8Array): number {
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update("\n")
    .update(Uint8Array.of(ALG_ED25519))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/** "<name>+<hash8hex>", how keys are named in messages and lookups. */
export function keyId(name: string, keyHash: number): string {
  return `${name}+${hex8(keyHash)}`;
}

function malformed(message: string): TlogError {
  return new TlogError("malformed-key", message);
}

// Splits "<name>+<hash8hex>+<base64(alg ‖ key)>" and checks everything but the key hash.
function splitKey(text: string, what: string): { name: string; hash: number; key: Uint8Array } {
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw malformed(`${what} is not <name>+<hash>+<key>`);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  const key = decodeBase64(text.slice(second + 1));
  if (!isValidKeyName(name)) throw malformed(`${what} has an invalid name (empty, or has spaces or "+")`);
  if (!/^[0-9a-fA-F]{8}$/.test(hashHex)) throw malformed(`${what} key hash is not 8 hex digits`);
  if (!key || key.length === 0) throw malformed(`${what} key is not valid base64`);
  if (key[0] !== ALG_ED25519)
    throw malformed(`${what} uses unknown algorithm ${key[0]} (only 1, Ed25519, is known)`);
  if (key.length !== 33) throw malformed(`${what} Ed25519 key is ${key.length - 1} bytes, not 32`);
  return { name, hash: parseInt(hashHex, 16), key: key.subarray(1) };
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

function verifierKeyText(name: string, publicKey: Uint8Array): string {
  const encoded = encodeBase64(Uint8Array.of(ALG_ED25519, ...publicKey));
  return `${keyId(name, noteKeyHash(name, publicKey))}+${encoded}`;
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
    if (typeof vkey !== "string") throw malformed("verifier key is not a string");
    const { name, hash, key } = splitKey(vkey, `verifier key "${vkey.slice(0, 120)}"`);
    if (noteKeyHash(name, key) !== hash)
      throw malformed(`verifier key for "${name}" has a key hash that does not match its key`);
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
