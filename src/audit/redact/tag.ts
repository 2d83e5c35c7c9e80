// The value that replaces a masked secret in the log: a keyed HMAC-SHA256 tag.
//
// Format: "kubetrail-hmac-sha256:" + base64url(HMAC-SHA256(key, bytes)), no padding.
// `bytes` are the secret's own bytes: for a Secret's `data` entry the base64-decoded
// value (so the tag equals the one of the same value sent in `stringData`), for text
// values their UTF-8 bytes, for non-string values their JSON text. Without the per-log
// key nobody can test guesses against a tag; with it, an investigator can confirm a
// candidate value (`kubetrail redaction check`).
import { createHmac, timingSafeEqual } from "node:crypto";
import { AuditError } from "../errors.js";
import { REDACTION_TAG_PREFIX } from "../types.js";

export const TAG_PREFIX = REDACTION_TAG_PREFIX;
export const REDACTION_KEY_BYTES = 32;

/** How a recorded value maps to the secret bytes the tag is computed over. */
export type ValueEncoding = "base64" | "text";

export class RedactionKeyError extends AuditError<"bad-key"> {
  constructor(message: string) {
    super("bad-key", message);
  }
}

export function assertRedactionKey(key: Uint8Array): void {
  if (key.length < REDACTION_KEY_BYTES) {
    throw new RedactionKeyError(
      `redaction key must be at least ${REDACTION_KEY_BYTES} bytes, got ${key.length}`,
    );
  }
}

/** Tag over exact bytes. */
export function tagBytes(key: Uint8Array, bytes: Uint8Array): string {
  return TAG_PREFIX + createHmac("sha256", key).update(bytes).digest("base64url");
}

/**
 * Strict base64 without a regular expression: a pattern over a multi-megabyte Secret value
 * overflows the regex engine's stack. Canonical means decoding and re-encoding gives the
 * same text (Node's decoder alone silently skips bad characters).
 */
function decodeStrictBase64(value: string): Buffer | null {
  if (value.length % 4 !== 0) return null;
  const bytes = Buffer.from(value, "base64");
  return bytes.toString("base64") === value ? bytes : null;
}

/** The bytes a recorded value stands for; a malformed base64 `data` value is taken as text. */
export function secretBytes(value: unknown, encoding: ValueEncoding): Uint8Array {
  if (typeof value !== "string") return Buffer.from(JSON.stringify(value), "utf8");
  if (encoding === "base64") return decodeStrictBase64(value) ?? Buffer.from(value, "utf8");
  return Buffer.from(value, "utf8");
}

export function tagValue(key: Uint8Array, value: unknown, encoding: ValueEncoding): string {
  return tagBytes(key, secretBytes(value, encoding));
}

/** True when `tag` is the tag of `candidate` under `key` (constant-time comparison). */
export function tagMatches(key: Uint8Array, candidate: Uint8Array, tag: string): boolean {
  const want = Buffer.from(tagBytes(key, candidate));
  const got = Buffer.from(tag.trim());
  return want.length === got.length && timingSafeEqual(want, got);
}
