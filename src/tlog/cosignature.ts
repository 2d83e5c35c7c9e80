// C2SP tlog-cosignature, Ed25519 cosignature/v1: a witness's statement that, as of a time, the
// checkpoint is the largest consistent tree it has seen for the log. It is an ordinary note
// signature line whose key is of algorithm 0x04 and whose signature bytes are
//   u64 big-endian POSIX timestamp ‖ Ed25519 signature
// over the message "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint's note text.
// So a cosigned checkpoint is opened with openCheckpoint like any other, a CosignatureVerifier
// beside the log's key (see checkpoint.ts).

import { ed25519, type Ed25519SigningKey, type Ed25519VerifyingKey } from "./ed25519.js";
import {
  ALG_COSIGNATURE_V1,
  generateKeyText,
  parseSignerKey,
  parseVerifierKey,
  verifierKeyText,
} from "./note-key.js";
import {
  COSIGNATURE_V1,
  cosignatureTime,
  cosignedMessage,
  MAX_TIMESTAMP,
  SIGNATURE_BYTES,
  TIMESTAMP_BYTES,
} from "./cosignature-format.js";
import { TlogError } from "./errors.js";
import type { Signer, Verifier } from "./signer.js";

export { cosignatureTime } from "./cosignature-format.js";

/** Makes cosignature/v1 signatures: what a witness adds to a checkpoint it has checked. */
export class CosignatureSigner implements Signer {
  private constructor(
    readonly name: string,
    readonly keyHash: number,
    /** The matching verifier key (algorithm 4), safe to publish. */
    readonly verifierKey: string,
    private readonly key: Ed25519SigningKey,
    private readonly now: () => number,
  ) {}

  /**
   * Parses a "PRIVATE+KEY+<name>+<hash>+<base64(0x04 ‖ seed)>" key. `now` gives the time to
   * sign at, in milliseconds (Date.now unless given). Throws TlogError("malformed-key").
   */
  static fromKey(skey: string, now: () => number = Date.now): CosignatureSigner {
    const parts = parseSignerKey(skey);
    if (parts.alg !== ALG_COSIGNATURE_V1)
      throw new TlogError("malformed-key", `signer key for "${parts.name}" is not a cosignature/v1 key`);
    return new CosignatureSigner(
      parts.name,
      parts.hash,
      verifierKeyText(parts.name, parts.publicKey, ALG_COSIGNATURE_V1),
      parts.signingKey,
      now,
    );
  }

  /** Timestamp ‖ Ed25519 signature over the cosigned message for the note text `msg`. */
  sign(msg: Uint8Array): Uint8Array {
    const timestamp = this.timestamp();
    return this.withTimestamp(timestamp, this.key.sign(cosignedMessage(msg, timestamp)));
  }

  /** sign, on the thread pool (a witness answering many logs at once). */
  async signAsync(msg: Uint8Array): Promise<Uint8Array> {
    const timestamp = this.timestamp();
    return this.withTimestamp(timestamp, await this.key.signAsync(cosignedMessage(msg, timestamp)));
  }

  /** This signer with signing done on the thread pool. */
  offThread(): Signer {
    return { name: this.name, keyHash: this.keyHash, sign: (msg) => this.signAsync(msg) };
  }

  private timestamp(): bigint {
    const timestamp = BigInt(Math.floor(this.now() / 1000));
    if (timestamp < 0n || timestamp > MAX_TIMESTAMP)
      throw new TlogError("sign-failed", `cosigner "${this.name}": the clock is out of range`);
    return timestamp;
  }

  private withTimestamp(timestamp: bigint, sig: Uint8Array): Uint8Array {
    const out = new Uint8Array(SIGNATURE_BYTES);
    new DataView(out.buffer).setBigUint64(0, timestamp);
    out.set(sig, TIMESTAMP_BYTES);
    return out;
  }
}

/** Checks cosignature/v1 signatures of one witness key (algorithm 4). */
export class CosignatureVerifier implements Verifier {
  /** Marks a witness's key for openCheckpoint (cosignature-format.ts): never the log's own. */
  readonly [COSIGNATURE_V1] = true;

  private constructor(
    readonly name: string,
    readonly keyHash: number,
    readonly key: string,
    private readonly publicKey: Ed25519VerifyingKey,
  ) {}

  /** Parses a "<name>+<hash>+<base64(0x04 ‖ public key)>" key; throws TlogError("malformed-key"). */
  static fromKey(vkey: string): CosignatureVerifier {
    const parts = parseVerifierKey(vkey);
    if (parts.alg !== ALG_COSIGNATURE_V1)
      throw new TlogError("malformed-key", `verifier key for "${parts.name}" is not a cosignature/v1 key`);
    return new CosignatureVerifier(parts.name, parts.hash, vkey, ed25519.verifyingKey(parts.key));
  }

  /** True only if `sig` is this witness's cosignature/v1 of the note text `msg`. */
  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    if (cosignatureTime(sig) === null) return false;
    const timestamp = new DataView(sig.buffer, sig.byteOffset, TIMESTAMP_BYTES).getBigUint64(0);
    return this.publicKey.verify(cosignedMessage(msg, timestamp), sig.subarray(TIMESTAMP_BYTES));
  }
}

/** A fresh witness key pair for `name`: a cosignature/v1 signer key and its verifier key. */
export function generateCosignatureKey(name: string): { signerKey: string; verifierKey: string } {
  return generateKeyText(name, ALG_COSIGNATURE_V1);
}
