// The cosignature/v1 signature format (C2SP tlog-cosignature) without the Ed25519 operations
// (cosignature.ts), so checkpoint.ts opens cosigned checkpoints in the UI's browser build too.

export const TIMESTAMP_BYTES = 8;
export const SIGNATURE_BYTES = TIMESTAMP_BYTES + 64;
export const MAX_TIMESTAMP = 2n ** 63n - 1n;
const encoder = new TextEncoder();

/** Carried by every CosignatureVerifier: a witness's key, never the log's own. */
export const COSIGNATURE_V1: unique symbol = Symbol.for("kubetrail.tlog.cosignature/v1");

/** True for a CosignatureVerifier (checked by its mark, so this module needs no node:crypto). */
export function isCosignatureVerifier(v: object): boolean {
  return (v as { [COSIGNATURE_V1]?: unknown })[COSIGNATURE_V1] === true;
}

/** The message a cosignature/v1 signs for a note text and a timestamp (seconds). */
export function cosignedMessage(text: Uint8Array, timestamp: bigint): Uint8Array {
  const header = encoder.encode(`cosignature/v1\ntime ${timestamp}\n`);
  const out = new Uint8Array(header.length + text.length);
  out.set(header);
  out.set(text, header.length);
  return out;
}

/**
 * The time (POSIX seconds) a cosignature/v1 signature says it was made, or null when the bytes
 * are not one. `sig` is the signature after the key hash (NoteSignature.signature).
 */
export function cosignatureTime(sig: Uint8Array): number | null {
  if (sig.length !== SIGNATURE_BYTES) return null;
  const t = new DataView(sig.buffer, sig.byteOffset, TIMESTAMP_BYTES).getBigUint64(0);
  return t > MAX_TIMESTAMP || t > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(t);
}
