import { CodedError } from "../errors.js";

/**
 * The mirror's errors: reading a log over HTTP ("unavailable", "missing", "pruned": a bundle its
 * retention removed) and following it ("bad-log", "fork").
 */
export type MirrorErrorCode = "unavailable" | "missing" | "pruned" | "bad-log" | "fork";

export class MirrorError extends CodedError<MirrorErrorCode> {}
