/** What went wrong, so callers can branch without parsing messages. */
export type TlogErrorCode =
  | "malformed-note"
  | "malformed-checkpoint"
  | "malformed-key"
  | "unknown-key"
  | "ambiguous-key"
  | "bad-signature"
  | "no-signature"
  | "origin-mismatch"
  | "invalid-proof-input"
  | "bad-tile"
  | "bad-path"
  | "bad-hash-reader";

export class TlogError extends Error {
  constructor(
    readonly code: TlogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "TlogError";
  }
}
