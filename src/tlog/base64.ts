// Standard padded base64 (RFC 4648 section 4), strictly: lenient decoders (Node's Buffer among
// them) silently skip invalid characters, which would let two different texts carry the same
// signature or hash. Written over btoa/atob so the same module runs in Node and in browsers;
// under Node, Buffer's codec does the work (every checkpoint a witness or mirror handles goes
// through here several times), behind the same strict checks.

const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// btoa takes a "binary" string; spreading large arrays into fromCharCode would overflow the stack.
const CHUNK = 0x8000;

/** The part of Node's Buffer used here; absent in browsers. */
interface NodeBufferCodec {
  from(bytes: ArrayBuffer, offset: number, length: number): { toString(encoding: "base64"): string };
  from(text: string, encoding: "base64"): Uint8Array;
}
const nodeBuffer = (globalThis as { Buffer?: NodeBufferCodec }).Buffer;

export function encodeBase64(bytes: Uint8Array): string {
  if (nodeBuffer)
    return nodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.length).toString("base64");
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

// The 6-bit value of each character of the alphabet (others are refused by CANONICAL first).
const SEXTET = new Uint8Array(128);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries())
  SEXTET[c.charCodeAt(0)] = i;

/**
 * Whether the bits a padded ending leaves unused are zero: "QR==" would decode to the same
 * byte as "QQ==", so only the spelling with zero bits is canonical.
 */
function zeroPaddingBits(s: string): boolean {
  if (!s.endsWith("=")) return true;
  const pad = s.endsWith("==") ? 2 : 1;
  return (SEXTET[s.charCodeAt(s.length - pad - 1)]! & (pad === 2 ? 0x0f : 0x03)) === 0;
}

/** The decoded bytes, or null unless `s` is the one canonical padded encoding of them. */
export function decodeBase64(s: string): Uint8Array | null {
  // The alphabet, the length and the padding checked here leave one spelling per byte string,
  // so any decoder gives the right bytes after them (Buffer's, lenient otherwise, is fastest).
  if (!CANONICAL.test(s) || !zeroPaddingBits(s)) return null;
  // A copy of its own, as Buffer.from may hand out a slice of a shared pool.
  if (nodeBuffer) return new Uint8Array(nodeBuffer.from(s, "base64"));
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
