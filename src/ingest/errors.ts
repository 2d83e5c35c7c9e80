import { CodedError } from "../errors.js";

/**
 * Why an ingest input was refused. The message names the place (item index, file line, field)
 * so an operator can find the offending event without the event itself being logged.
 */
export type BadInputCode =
  | "not_json"
  | "wrong_kind"
  | "wrong_api_version"
  | "invalid_event"
  | "too_large"
  | "bad_encoding"
  | "unsupported_media";

/**
 * Ingest's errors: bad input (the sender's fault: 4xx, the item rejected), "busy" (too much in
 * flight: 429, retry later), the dedupe store's: "store_corrupt" (rebuilt from the log),
 * "store_failed" (its writer failed), "cancelled" (a job stopped because the store closes), and
 * a backfill into a running server's (RemoteImportError).
 */
export type IngestErrorCode =
  BadInputCode | "busy" | "store_corrupt" | "store_failed" | "cancelled" | RemoteImportErrorCode;

/** A running server refused a backfill batch, stayed unavailable, or answered what it should not. */
export type RemoteImportErrorCode = "refused" | "unavailable" | "protocol";

export class IngestError extends CodedError<IngestErrorCode> {
  /** The offending field of an event, when one is to blame (`stageTimestamp`, `auditID`). */
  readonly field?: string;

  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(code, message, options);
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** Too much at once (events waiting for the disk, bodies being parsed): the caller should answer 429. */
export class IngestBusyError extends IngestError {
  constructor(message: string) {
    super("busy", message);
  }
}

const BAD_INPUT: ReadonlySet<string> = new Set<BadInputCode>([
  "not_json",
  "wrong_kind",
  "wrong_api_version",
  "invalid_event",
  "too_large",
  "bad_encoding",
  "unsupported_media",
]);

/** Whether `err` is bad input: the item (or body) is refused, the rest goes on. */
export function isBadInput(err: unknown): err is IngestError & { code: BadInputCode } {
  return err instanceof IngestError && BAD_INPUT.has(err.code);
}

/**
 * Recursion over a pathologically nested value overflows the stack: that is bad input naming
 * `where`, not an outage. Every other error is returned as it is.
 */
export function tooDeepAsBadInput(err: unknown, where: string): unknown {
  return err instanceof RangeError
    ? new IngestError("invalid_event", `${where}: too deeply nested to process`)
    : err;
}
