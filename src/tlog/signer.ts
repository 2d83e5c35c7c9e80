// What signs and checks a signed note, as Go's note.Signer and note.Verifier: a key name, the
// 32-bit key hash that names the key on signature lines, and the signature itself. Any key
// holder fits: an Ed25519 key in this process (note-key.ts), a witness's cosignature key
// (cosignature.ts), or a signer elsewhere (a KMS, another process), which is why sign may be
// asynchronous.

export interface Signer {
  /** The key name: the checkpoint's origin for a log's key, the witness's name for a cosigner. */
  readonly name: string;
  readonly keyHash: number;
  /** The signature bytes that follow the key hash on the signature line. */
  sign(msg: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface Verifier {
  readonly name: string;
  readonly keyHash: number;
  /** The verifier key text (`<name>+<hash>+<base64>`), when the verifier has one. */
  readonly key?: string;
  /** True only if `sig` (the bytes after the key hash) is this key's signature of `msg`. Never throws. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
  /** The same check off the caller's thread, when the key can do that (openNoteAsync uses it). */
  verifyAsync?(msg: Uint8Array, sig: Uint8Array): Promise<boolean>;
}
