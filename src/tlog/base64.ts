// Standard padded base64 (RFC 4648 section 4), strictly: Buffer.from(s, "base64") silently skips
// invalid characters, which would let two different texts carry the same signature or hash.

const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** The decoded bytes, or null unless `s` is the one canonical padded encoding of them. */
export function decodeBase64(s: string): Uint8Array | null {
  if (!CANONICAL.test(s)) return null;
  const bytes = new Uint8Array(Buffer.from(s, "base64"));
  // Non-zero padding bits would decode to the same bytes as another spelling.
  return encodeBase64(bytes) === s ? bytes : null;
}
