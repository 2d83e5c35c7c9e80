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
  ) {
    super(message);
    this.name = "IngestError";
  }
}
