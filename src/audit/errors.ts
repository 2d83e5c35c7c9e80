// The audit module's errors: a policy that cannot be used ("read", "syntax", "invalid"), a
// redaction key ("bad-key"), rule ("bad-redaction-rule") or JSON path ("bad-path") that is wrong,
// a Kubernetes version that is not known ("bad-version").
import { CodedError } from "../errors.js";

export type AuditErrorCode =
  "read" | "syntax" | "invalid" | "bad-key" | "bad-redaction-rule" | "bad-path" | "bad-version";

export class AuditError<Code extends AuditErrorCode = AuditErrorCode> extends CodedError<Code> {}
