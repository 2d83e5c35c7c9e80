// Messages between the page and the proof worker.

export interface ProofItem {
  index: number;
  /** The entry's stored text (UTF-8 JSON). */
  entry: string;
  /** base64 hashes */
  proof: string[];
  /** Pruned or erased: the bytes are gone, only the leaf hash remains in the tree. */
  gone?: { state: string; reason: string };
}

export interface ProofJob {
  id: number;
  size: number;
  rootHash: string;
  items: ProofItem[];
}

export interface ProofResult {
  index: number;
  ok: boolean;
  reason?: string;
}

export interface ProofReply {
  id: number;
  results: ProofResult[];
  ms: number;
}
