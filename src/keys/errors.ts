import { CodedError } from "../errors.js";

/**
 * The keys module's errors: a rotation that cannot proceed ("state", "io"), and a checkpoint the
 * key history does not accept (unknown, retired or not-yet-valid key, bad signature or checkpoint).
 */
export type KeysErrorCode =
  "state" | "io" | "unknown-key" | "bad-signature" | "bad-checkpoint" | "retired-key" | "not-yet-valid-key";

export class KeysError extends CodedError<KeysErrorCode> {}
