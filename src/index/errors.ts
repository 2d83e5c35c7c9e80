import { CodedError } from "../errors.js";

/**
 * What kind of input was rejected; callers map "bad-filter" to exit code 2 / HTTP 400, and
 * "rebuilding" (the index is being refilled from the log) and "loading" (the UI's in-memory
 * statistics are still being read from it) to HTTP 503.
 */
export type IndexErrorCode =
  | "bad-filter"
  | "bad-cursor"
  | "corrupt"
  | "mismatch"
  | "rebuilding"
  | "loading"
  /** Rows that would leave a gap after the index's position: another process emptied it (`kubetrail reindex`). */
  | "gap"
  /** The thread writing the index stopped; the indexer starts another or writes itself. */
  | "writer";

/** A typed error from the index or the query language; `field` names the filter or column at fault. */
export class IndexError extends CodedError<IndexErrorCode> {
  constructor(
    code: IndexErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
