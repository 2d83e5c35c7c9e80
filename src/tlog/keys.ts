// Signers and verifiers from their key texts, whatever the algorithm (Go's note.NewSigner and
// note.NewVerifier, extended to the cosignature/v1 keys witnesses use).
import { CosignatureSigner, CosignatureVerifier } from "./cosignature.js";
import {
  ALG_COSIGNATURE_V1,
  NoteSigner,
  NoteVerifier,
  parseSignerKey,
  parseVerifierKey,
} from "./note-key.js";
import type { Signer, Verifier } from "./signer.js";

/** A verifier for a "<name>+<hash>+<base64(alg ‖ key)>" key; throws TlogError("malformed-key"). */
export function newVerifier(vkey: string): Verifier {
  return parseVerifierKey(vkey).alg === ALG_COSIGNATURE_V1
    ? CosignatureVerifier.fromKey(vkey)
    : NoteVerifier.fromKey(vkey);
}

/**
 * A signer for a "PRIVATE+KEY+…" key: a log's note key or a witness's cosignature key. Throws
 * TlogError("malformed-key") without echoing the key.
 */
export function newSigner(skey: string): NoteSigner | CosignatureSigner {
  return parseSignerKey(skey).alg === ALG_COSIGNATURE_V1
    ? CosignatureSigner.fromKey(skey)
    : NoteSigner.fromKey(skey);
}

export type { Signer, Verifier };
