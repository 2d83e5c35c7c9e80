// Checks inclusion proofs off the main thread, so scrolling never waits for hashing: each
// entry's bytes are hashed as a leaf and walked up its proof to the verified root, with the
// project's own tlog (the code `kubetrail verify` runs).
import { decodeBase64 } from "../../../src/tlog/base64.js";
import { hashLeaf } from "../../../src/tlog/hash.js";
import { verifyInclusion } from "../../../src/tlog/tree.js";
import type { ProofJob, ProofResult } from "./proof-types.js";

const encoder = new TextEncoder();

self.onmessage = (e: MessageEvent<ProofJob>) => {
  const { id, size, rootHash, items } = e.data;
  const started = performance.now();
  const root = decodeBase64(rootHash);
  const results: ProofResult[] = items.map((item) => {
    if (item.gone !== undefined)
      return {
        index: item.index,
        ok: false,
        reason: `entry ${item.index}: ${item.gone.state} (${item.gone.reason}) — its bytes are no longer in the log to check`,
      };
    const proof = item.proof.map(decodeBase64);
    if (root === null || proof.some((h) => h === null))
      return {
        index: item.index,
        ok: false,
        reason: `entry ${item.index}: its inclusion proof is not base64 of hashes`,
      };
    const leaf = hashLeaf(encoder.encode(item.entry));
    if (verifyInclusion(leaf, item.index, size, proof as Uint8Array[], root))
      return { index: item.index, ok: true };
    return {
      index: item.index,
      ok: false,
      reason:
        `entry ${item.index}: its bytes are not the leaf the signed checkpoint (size ${size}) commits to — ` +
        "the stored entry or its proof was altered",
    };
  });
  (self as unknown as Worker).postMessage({ id, results, ms: performance.now() - started });
};
