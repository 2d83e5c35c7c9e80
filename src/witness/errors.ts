import { CodedError } from "../errors.js";
/**
 * "config": the logs file or a flag is wrong (what and where in the message); "corrupt": the
 * witness's or mirror's state on disk is damaged; "io": reading or writing it failed;
 * "locked": another process has the data directory; "crypto-thread": a thread doing the
 * Ed25519 work stopped (its jobs fail; the next ones go to a new thread).
 */
export type WitnessErrorCode = "config" | "corrupt" | "io" | "locked" | "crypto-thread";

/** Every error of the witness and mirror servers: a `code` to branch on, the underlying error as `cause`. */
export class WitnessError extends CodedError<WitnessErrorCode> {}
