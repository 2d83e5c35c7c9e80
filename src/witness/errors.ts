import { CodedError } from "../errors.js";
/**
 * "config": the logs file or a flag is wrong (what and where in the message); "corrupt": the
 * witness's or mirror's state on disk is damaged; "io": reading or writing it failed;
 * "locked": another process has the data directory.
 */
export type WitnessErrorCode = "config" | "corrupt" | "io" | "locked";

/** Every error of the witness and mirror servers: a `code` to branch on, the underlying error as `cause`. */
export class WitnessError extends CodedError<WitnessErrorCode> {}
