import { CodedError } from "../errors.js";
/**
 * What went wrong talking to a kubetrail server, or with the client's own settings:
 * "config": the client config or a flag is wrong; "unreachable": no connection; "tls": the
 * server's certificate is not trusted (or ours refused); "refused": 401/403; "server": any other
 * error status; "junk": an answer that is not what the API documents; "forged": an entry or
 * checkpoint that does not verify against the pinned key; "rollback": the server's log is not
 * an extension of the one this client saw before; "gone": the entry's bytes were pruned or erased;
 * "witnesses": the checkpoint lacks the cosignatures the witness policy asks for.
 */
export type ClientErrorCode =
  | "config"
  | "unreachable"
  | "tls"
  | "refused"
  | "server"
  | "junk"
  | "forged"
  | "rollback"
  | "gone"
  | "witnesses";

/** A typed client error; its message is one line meant for the person at the terminal. */
export class ClientError extends CodedError<ClientErrorCode> {}
