// Key texts in the Go sumdb/note (C2SP signed-note) encoding, without any signing, so the UI's
// browser build reads keys with the same rules:
//   verifier: <name>+<hash8hex>+<base64(alg ‖ public key)>
//   signer:   PRIVATE+KEY+<name>+<hash8hex>+<base64(alg ‖ seed)>
// where hash = the first 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ alg ‖ public key). The
// algorithm byte says what the key signs: 0x01 Ed25519 note signatures (a log's checkpoints),
// 0x04 Ed25519 cosignature/v1 (a witness, see cosignature.ts). Signing is in note-key.ts.

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { sha256 } from "./sha256.js";

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
export const ALG_NAMES: Record<number, string> = {
  [ALG_ED25519]: "Ed25519",
  [ALG_COSIGNATURE_V1]: "Ed25519 cosignature/v1",
};
export const SIGNER_PREFIX = "PRIVATE+KEY+";

// Unicode white space as Go's unicode.IsSpace sees it (JavaScript's \s also matches U+FEFF).
const SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;
const encoder = new TextEncoder();

/** A key name must be non-empty valid Unicode without white space or "+". */
export function isValidKeyName(name: string): boolean {
  return name !== "" && !SPACE.test(name) && !name.includes("+") && !LONE_SURROGATE.test(name);
}

/**
 * The 32-bit key hash identifying a key in signature lines; publicKey is the raw 32-byte
 * Ed25519 key and `alg` the key's algorithm byte (Ed25519 note keys unless given).
 */
export function noteKeyHash(name: string, publicKey: Uint8Array, alg: number = ALG_ED25519): number {
  const nameBytes = encoder.encode(`${name}\n`);
  const input = new Uint8Array(nameBytes.length + 1 + publicKey.length);
  input.set(nameBytes);
  input[nameBytes.length] = alg;
  input.set(publicKey, nameBytes.length + 1);
  return new DataView(sha256(input).buffer).getUint32(0);
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/** "<name>+<hash8hex>", how keys are named in messages and lookups. */
export function keyId(name: string, keyHash: number): string {
  return `${name}+${hex8(keyHash)}`;
}

export function malformedKey(message: string): TlogError {
  return new TlogError("malformed-key", message);
}
const malformed = malformedKey;

/** A key text taken apart: its name, hash, algorithm byte and the 32 key bytes after it. */
export interface KeyText {
  name: string;
  hash: number;
  alg: number;
  key: Uint8Array;
}

/** Splits "<name>+<hash8hex>+<base64(alg ‖ key)>" and checks everything but the key hash. */
export function splitKey(text: string, what: string): KeyText {
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

/** The verifier key text of a raw Ed25519 public key for algorithm `alg`. */
export function verifierKeyText(name: string, publicKey: Uint8Array, alg: number): string {
  const encoded = encodeBase64(Uint8Array.of(alg, ...publicKey));
  return `${keyId(name, noteKeyHash(name, publicKey, alg))}+${encoded}`;
}

/** Throws TlogError("malformed-key") unless the key is of algorithm `alg`. */
export function expectAlg(parts: KeyText, alg: number, what: string): void {
  if (parts.alg !== alg)
    throw malformed(`${what} for "${parts.name}" is an ${ALG_NAMES[parts.alg]} key, not ${ALG_NAMES[alg]}`);
}
