// The log's side of C2SP tlog-witness for one witness: sends a new checkpoint with the
// consistency proof from the size the witness last cosigned, and returns its checked
// cosignatures. The witness's size is learned from its 409 answers (the first request after a
// start says "old 0", as the spec allows); a witness that holds a larger tree than the log's
// checkpoint has seen another history of this log, and is reported as such ("ahead").
// Sequencing, retries and back-off: cosigner-client.ts.
import {
  CosignerClient,
  type CosignerEndpoint,
  type CosignJob,
  type CosignOutcome,
} from "./cosigner-client.js";

export interface WitnessEndpoint extends CosignerEndpoint {
  /** Asked, and its cosignature attached, but never counted toward the quorum. */
  optional: boolean;
}

export class WitnessClient extends CosignerClient {
  protected async exchange(job: CosignJob): Promise<CosignOutcome> {
    const r = await this.addCheckpoint(job);
    if ("outcome" in r) return r.outcome;
    return this.checked(r.answer.body.toString("utf8"), job);
  }
}
