// Standard padded base64 (RFC 4648 section 4), strictly: lenient decoders (Node's Buffer among
// them) silently skip invalid characters, which would let two different texts carry the same
// signature or hash. Written over btoa/atob so the same module runs in Node and in browsers.

const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// btoa takes a "binary" string; spreading large arrays into fromCharCode would overflow the stack.
const CHUNK = 0x8000;

export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** The decoded bytes, or null unless `s` is the one canonical padded encoding of them. */
export function decodeBase64(s: string): Uint8Array | null {
  if (!CANONICAL.test(s)) return null;
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // Non-zero padding bits would decode to the same bytes as another spelling.
  return encodeBase64(bytes) === s ? bytes : null;
}
