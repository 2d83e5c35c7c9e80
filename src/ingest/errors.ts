/**
 * Why an ingest input was refused. `where` names the place (item index, file line, field)
 * so an operator can find the offending event without the event itself being logged.
 */
export type IngestErrorCode =
  | "not_json"
  | "wrong_kind"
  | "wrong_api_version"
  | "invalid_event"
  | "too_large"
  | "bad_encoding"
  | "unsupported_media";

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    /** The offending field of an event, when one is to blame (`stageTimestamp`, `auditID`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "IngestError";
  }
}

/** Too much at once (events waiting for the disk, bodies being parsed): the caller should answer 429. */
export class IngestBusyError extends Error {
  readonly code = "busy";
  constructor(message: string) {
    super(message);
    this.name = "IngestBusyError";
  }
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
