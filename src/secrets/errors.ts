// The secrets module's errors: a detector configuration that cannot be used
// ("bad-detector-config") or a keyword set that cannot be built ("bad-keyword").
import { CodedError } from "../errors.js";

export class SecretsError extends CodedError<"bad-detector-config" | "bad-keyword"> {}
