// Key texts in the Go sumdb/note (C2SP signed-note) encoding, and the Ed25519 note keys:
//   verifier: <name>+<hash8hex>+<base64(alg ‖ public key)>
//   signer:   PRIVATE+KEY+<name>+<hash8hex>+<base64(alg ‖ seed)>
// where hash = the first 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ alg ‖ public key). The
// algorithm byte says what the key signs: 0x01 Ed25519 note signatures (a log's checkpoints),
// 0x04 Ed25519 cosignature/v1 (a witness, see cosignature.ts).

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
import type { Signer, Verifier } from "./signer.js";

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const ALG_NAMES: Record<number, string> = {
  [ALG_ED25519]: "Ed25519",
  [ALG_COSIGNATURE_V1]: "Ed25519 cosignature/v1",
};
// DER headers that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const SIGNER_PREFIX = "PRIVATE+KEY+";

// Unicode white space as Go's unicode.IsSpace sees it (JavaScript's \s also matches U+FEFF).
const SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A key name must be non-empty valid Unicode without white space or "+". */
export function isValidKeyName(name: string): boolean {
  return name !== "" && !SPACE.test(name) && !name.includes("+") && !LONE_SURROGATE.test(name);
}

/**
 * The 32-bit key hash identifying a key in signature lines; publicKey is the raw 32-byte
 * Ed25519 key and `alg` the key's algorithm byte (Ed25519 note keys unless given).
 */
export function noteKeyHash(name: string, publicKey: Uint8Array, alg: number = ALG_ED25519): number {
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update("\n")
    .update(Uint8Array.of(alg))
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

/** A key text taken apart: its name, hash, algorithm byte and the 32 key bytes after it. */
export interface KeyText {
  name: string;
  hash: number;
  alg: number;
  key: Uint8Array;
}

// Splits "<name>+<hash8hex>+<base64(alg ‖ key)>" and checks everything but the key hash.
function splitKey(text: string, what: string): KeyText {
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw malformed(`${what} is not <name>+<hash>+<key>`);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  const key = decodeBase64(text.slice(second + 1));
  if (!isValidKeyName(name)) throw malformed(`${what} has an invalid name (empty, or has spaces or "+")`);
  if (!/^[0-9a-fA-F]{8}$/.test(hashHex)) throw malformed(`${what} key hash is not 8 hex digits`);
  if (!key || key.length === 0) throw malformed(`${what} key is not valid base64`);
  const alg = key[0]!;
  if (ALG_NAMES[alg] === undefined)
    throw malformed(`${what} uses unknown algorithm ${alg} (known: 1 Ed25519, 4 Ed25519 cosignature/v1)`);
  if (key.length !== 33) throw malformed(`${what} ${ALG_NAMES[alg]} key is ${key.length - 1} bytes, not 32`);
  return { name, hash: parseInt(hashHex, 16), alg, key: key.subarray(1) };
}

/** Parses a verifier key text of any known algorithm, checking its key hash. */
export function parseVerifierKey(vkey: string): KeyText {
  if (typeof vkey !== "string") throw malformed("verifier key is not a string");
  const parts = splitKey(vkey, `verifier key "${vkey.slice(0, 120)}"`);
  if (noteKeyHash(parts.name, parts.key, parts.alg) !== parts.hash)
    throw malformed(`verifier key for "${parts.name}" has a key hash that does not match its key`);
  return parts;
}

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

/** The verifier key text of a raw Ed25519 public key for algorithm `alg`. */
export function verifierKeyText(name: string, publicKey: Uint8Array, alg: number): string {
  const encoded = encodeBase64(Uint8Array.of(alg, ...publicKey));
  return `${keyId(name, noteKeyHash(name, publicKey, alg))}+${encoded}`;
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

function expectAlg(parts: KeyText, alg: number, what: string): void {
  if (parts.alg !== alg)
    throw malformed(`${what} for "${parts.name}" is an ${ALG_NAMES[parts.alg]} key, not ${ALG_NAMES[alg]}`);
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
}

/** A fresh Ed25519 note key pair for `name`, as a secret signer key and a public verifier key. */
export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyText(name, ALG_ED25519);
}
