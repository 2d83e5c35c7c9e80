// The text encoding of Ed25519 note keys (Go's sumdb/note, C2SP signed-note), without the
// signing itself, so the browser build can read verifier keys with the same rules:
//   verifier: <name>+<hash8hex>+<base64(0x01 ‖ public key)>
//   signer:   PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 ‖ seed)>
// where hash = the first 4 bytes (big-endian) of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { sha256 } from "./sha256.js";

export const ALG_ED25519 = 0x01;

// Unicode white space as Go's unicode.IsSpace sees it (JavaScript's \s also matches U+FEFF).
const SPACE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/u;
const LONE_SURROGATE = /\p{Surrogate}/u;
const encoder = new TextEncoder();

/** A key name must be non-empty valid Unicode without white space or "+". */
export function isValidKeyName(name: string): boolean {
  return name !== "" && !SPACE.test(name) && !name.includes("+") && !LONE_SURROGATE.test(name);
}

/** The 32-bit key hash identifying a key in signature lines; publicKey is the raw 32-byte Ed25519 key. */
export function noteKeyHash(name: string, publicKey: Uint8Array): number {
  const nameBytes = encoder.encode(`${name}\n`);
  const input = new Uint8Array(nameBytes.length + 1 + publicKey.length);
  input.set(nameBytes);
  input[nameBytes.length] = ALG_ED25519;
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

/** Splits "<name>+<hash8hex>+<base64(alg ‖ key)>" and checks everything but the key hash. */
export function splitKey(text: string, what: string): { name: string; hash: number; key: Uint8Array } {
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) throw malformedKey(`${what} is not <name>+<hash>+<key>`);
  const name = text.slice(0, first);
  const hashHex = text.slice(first + 1, second);
  const key = decodeBase64(text.slice(second + 1));
  if (!isValidKeyName(name)) throw malformedKey(`${what} has an invalid name (empty, or has spaces or "+")`);
  if (!/^[0-9a-fA-F]{8}$/.test(hashHex)) throw malformedKey(`${what} key hash is not 8 hex digits`);
  if (!key || key.length === 0) throw malformedKey(`${what} key is not valid base64`);
  if (key[0] !== ALG_ED25519)
    throw malformedKey(`${what} uses unknown algorithm ${key[0]} (only 1, Ed25519, is known)`);
  if (key.length !== 33) throw malformedKey(`${what} Ed25519 key is ${key.length - 1} bytes, not 32`);
  return { name, hash: parseInt(hashHex, 16), key: key.subarray(1) };
}

/** A parsed verifier key: its name, key hash and raw 32-byte Ed25519 public key. */
export interface VerifierKeyText {
  name: string;
  keyHash: number;
  publicKey: Uint8Array;
}

/** Parses a "<name>+<hash>+<key>" verifier key; throws TlogError("malformed-key"). */
export function parseVerifierKey(vkey: string): VerifierKeyText {
  if (typeof vkey !== "string") throw malformedKey("verifier key is not a string");
  const { name, hash, key } = splitKey(vkey, `verifier key "${vkey.slice(0, 120)}"`);
  if (noteKeyHash(name, key) !== hash)
    throw malformedKey(`verifier key for "${name}" has a key hash that does not match its key`);
  return { name, keyHash: hash, publicKey: key };
}

/** The verifier key text for a raw Ed25519 public key. */
export function verifierKeyText(name: string, publicKey: Uint8Array): string {
  const encoded = encodeBase64(Uint8Array.of(ALG_ED25519, ...publicKey));
  return `${keyId(name, noteKeyHash(name, publicKey))}+${encoded}`;
}
