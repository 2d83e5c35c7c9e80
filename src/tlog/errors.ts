/** What went wrong, so callers can branch without parsing messages. */
export type TlogErrorCode =
  | "malformed-note"
  | "malformed-checkpoint"
  | "malformed-key"
  | "unknown-key"
  | "ambiguous-key"
  | "bad-signature"
  | "no-signature"
  | "sign-failed"
  | "origin-mismatch"
  | "invalid-proof-input"
  | "bad-tile"
  | "bad-path"
  | "bad-hash-reader"
  | "malformed-request";

/** Every error kubetrail/tlog throws: a `code` to branch on and, when another error led to it, its `cause`. */
export class TlogError extends Error {
  constructor(
    readonly code: TlogErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "TlogError";
  }
}
