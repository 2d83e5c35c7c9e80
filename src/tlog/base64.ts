// Standard padded base64 (RFC 4648 section 4), strictly: lenient decoders (Node's Buffer among
// them) silently skip invalid characters, which would let two different texts carry the same
// signature or hash. Written over btoa/atob so the same module runs in Node and in browsers;
// under Node, Buffer's codec does the work (every checkpoint a witness or mirror handles goes
// through here several times), behind the same strict checks.

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

// The 6-bit value of each character of the alphabet; NOT_ALPHABET for every other code below 128.
const NOT_ALPHABET = 0xff;
const SEXTET = new Uint8Array(128).fill(NOT_ALPHABET);
for (const [i, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries())
  SEXTET[c.charCodeAt(0)] = i;
const PAD = "=".charCodeAt(0);

/**
 * Whether `s` is padded base64 in its one canonical spelling: whole quads of the alphabet, at
 * most two "=" at the end, and zero bits where a padded ending leaves bits unused ("QR==" would
 * decode to the same byte as "QQ=="). A loop over the character codes: a witness checks a
 * dozen strings per request, and a regular expression took several times longer.
 */
function canonical(s: string): boolean {
  const n = s.length;
  if (n % 4 !== 0) return false;
  const pad = n === 0 || s.charCodeAt(n - 1) !== PAD ? 0 : s.charCodeAt(n - 2) === PAD ? 2 : 1;
  for (let i = 0; i < n - pad; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || SEXTET[c] === NOT_ALPHABET) return false;
  }
  return pad === 0 || (SEXTET[s.charCodeAt(n - pad - 1)]! & (pad === 2 ? 0x0f : 0x03)) === 0;
}

/** The decoded bytes, or null unless `s` is the one canonical padded encoding of them. */
export function decodeBase64(s: string): Uint8Array | null {
  // The alphabet, the length and the padding checked here leave one spelling per byte string,
  // so any decoder gives the right bytes after them (Buffer's, lenient otherwise, is fastest).
  if (!canonical(s)) return null;
  // A copy of its own, as Buffer.from may hand out a slice of a shared pool.
  if (nodeBuffer) return new Uint8Array(nodeBuffer.from(s, "base64"));
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
