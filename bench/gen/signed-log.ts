// A log held in memory for the witness and mirror benches and tests: real keys, real leaves,
// real signed checkpoints and proofs — and, on demand, a fork of itself signed by the same key.
import {
  type Hash,
  consistencyProof,
  formatAddCheckpointRequest,
  generateNoteKey,
  hashLeaf,
  NoteSigner,
  rootFromLeafHashes,
  signCheckpoint,
} from "../../src/tlog/index.js";

export class SignedLog {
  readonly signer: NoteSigner;
  readonly verifierKey: string;
  readonly entries: Uint8Array[] = [];
  readonly leaves: Hash[] = [];

  constructor(
    readonly origin: string,
    keys = generateNoteKey(origin),
  ) {
    this.signer = NoteSigner.fromKey(keys.signerKey);
    this.verifierKey = keys.verifierKey;
  }

  /** Appends n entries whose text starts with `tag` (a fork uses another tag). */
  append(n: number, tag = "entry"): this {
    for (let i = 0; i < n; i++) {
      const data = new TextEncoder().encode(JSON.stringify({ tag, n: this.entries.length }));
      this.entries.push(data);
      this.leaves.push(hashLeaf(data));
    }
    return this;
  }

  /** A copy of the first `size` entries, signed by the same key: append other entries to it to fork. */
  fork(size: number): SignedLog {
    const other = Object.create(SignedLog.prototype) as SignedLog;
    Object.assign(other, this, { entries: this.entries.slice(0, size), leaves: this.leaves.slice(0, size) });
    return other;
  }

  get size(): number {
    return this.leaves.length;
  }

  root(size = this.size): Hash {
    return rootFromLeafHashes(this.leaves.slice(0, size));
  }

  checkpoint(size = this.size, extensions: string[] = []): Promise<string> {
    return signCheckpoint({ origin: this.origin, size, rootHash: this.root(size), extensions }, this.signer);
  }

  proof(from: number, to = this.size): Hash[] {
    return consistencyProof(from, to, this.leaves.slice(0, to));
  }

  /** An add-checkpoint body for the checkpoint of `size` with the proof from `old`. */
  async addCheckpointBody(old: number, size = this.size): Promise<string> {
    return formatAddCheckpointRequest({
      oldSize: old,
      proof: this.proof(old, size),
      checkpoint: await this.checkpoint(size),
    });
  }
}
