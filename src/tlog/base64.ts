// Standard padded base64 (RFC 4648 section 4), strictly: lenient decoders (Node's Buffer among
// them) silently skip invalid characters, which would let two different texts carry the same
// signature or hash. The same module runs in Node and in browsers: encoding goes through
// Buffer's codec under Node and btoa elsewhere; decoding is a loop of its own that checks as
// it goes.

// btoa takes a "binary" string; spreading large arrays into fromCharCode would overflow the stack.
const CHUNK = 0x8000;

/** The part of Node's Buffer used here; absent in browsers. */
interface NodeBufferCodec {
  from(bytes: ArrayBuffer, offset: number, length: number): { toString(encoding: "base64"): string };
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

/** The 6-bit value of the character at `i`, or NOT_ALPHABET. */
function sextet(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? SEXTET[c]! : NOT_ALPHABET;
}

/**
 * The decoded bytes, or null unless `s` is the one canonical padded encoding of them: whole
 * quads of the alphabet, at most two "=" at the end, and zero bits where a padded ending leaves
 * bits unused ("QR==" would decode to the same byte as "QQ=="). Checked and decoded in one loop
 * over the character codes into an array of its own: a witness decodes a dozen short strings
 * per request (hashes, signatures), for which a regular expression, or Buffer's codec and a
 * copy out of its shared pool, took several times longer.
 */
export function decodeBase64(s: string): Uint8Array | null {
  const n = s.length;
  if (n % 4 !== 0) return null;
  const pad = n === 0 || s.charCodeAt(n - 1) !== PAD ? 0 : s.charCodeAt(n - 2) === PAD ? 2 : 1;
  const out = new Uint8Array((n / 4) * 3 - pad);
  const whole = pad === 0 ? n : n - 4;
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = sextet(s, i);
    const b = sextet(s, i + 1);
    const c = sextet(s, i + 2);
    const d = sextet(s, i + 3);
    // NOT_ALPHABET is the only value with bits above the sixth.
    if ((a | b | c | d) > 63) return null;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    out[o++] = ((c & 0x03) << 6) | d;
  }
  if (pad === 0) return out;
  const a = sextet(s, whole);
  const b = sextet(s, whole + 1);
  if ((a | b) > 63) return null;
  out[o++] = (a << 2) | (b >> 4);
  if (pad === 2) return (b & 0x0f) === 0 ? out : null;
  const c = sextet(s, whole + 2);
  if (c > 63 || (c & 0x03) !== 0) return null;
  out[o] = ((b & 0x0f) << 4) | (c >> 2);
  return out;
}
