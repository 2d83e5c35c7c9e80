// The shape of kubetrail's errors: each module has one family, a base class with a small union
// of codes to branch on (never the message), and every error that wraps another keeps it as
// `cause`. (kubetrail/tlog's TlogError has the same shape on its own: the library imports
// nothing from the rest of kubetrail.)

export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
