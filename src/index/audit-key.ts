// The index's key for an auditID (schema.ts `entries.audit`). Node-only (SHA-256 from
// node:crypto): kept out of row.ts and query.ts, which the web UI's bundle shares.
import { hash } from "node:crypto";

/**
 * The first 8 bytes of the auditID's SHA-256 as a signed 64-bit integer. Fixed size whatever
 * the ID's spelling; two different IDs share a key with odds of 2^-64 a pair.
 */
export function auditKey(auditID: string): bigint {
  // The one-shot form: a Hash object per row cost the index writer more than the hashing.
  return hash("sha256", auditID, "buffer").readBigInt64BE(0);
}
