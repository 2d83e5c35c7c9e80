// Shared by the tlog unit tests: deterministic leaves and the ways a proof can be corrupted.

import { type Hash, hashLeaf, hashNode } from "../hash.js";
import { type HashReader, splitStoredHashIndex } from "../stored.js";

export function hex(h: Uint8Array): string {
  return Buffer.from(h).toString("hex");
}

export function fromHex(s: string): Hash {
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Leaf hashes of the entries "entry 0", "entry 1", … */
export function testLeaves(n: number): Hash[] {
  return Array.from({ length: n }, (_, i) => hashLeaf(new TextEncoder().encode(`entry ${i}`)));
}

export function flipBit(proof: readonly Hash[], element: number, bit: number): Hash[] {
  return proof.map((h, i) => {
    if (i !== element) return h;
    const copy = h.slice();
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
    return copy;
  });
}

/** Every truncation and extension of a proof, each of which must fail to verify. */
export function reshapedProofs(proof: readonly Hash[], extra: Hash): { what: string; proof: Hash[] }[] {
  const out = [
    { what: "extra hash at the end", proof: [...proof, extra] },
    { what: "extra hash at the front", proof: [extra, ...proof] },
    { what: "short hash appended", proof: [...proof, extra.subarray(0, 31)] },
  ];
  if (proof.length > 0) {
    out.push({ what: "last hash removed", proof: proof.slice(0, -1) });
    out.push({ what: "first hash removed", proof: proof.slice(1) });
    out.push({ what: "first hash repeated", proof: [proof[0] as Hash, ...proof] });
    out.push({
      what: "truncated hash",
      proof: [...proof.slice(0, -1), (proof[proof.length - 1] as Hash).subarray(1)],
    });
  }
  return out;
}

/**
 * A log of any size whose leaves are all the same entry: every complete subtree at Merkle level
 * L then has the same hash levels[L], so stored hashes and tiles of a 100-million-entry tree can
 * be produced from their coordinates alone, and it is still a real Merkle tree.
 */
export function uniformTree(): { levels: Hash[]; hashes: HashReader; root: (size: number) => Hash } {
  const levels: Hash[] = [hashLeaf(new TextEncoder().encode("same entry"))];
  for (let l = 1; l <= 52; l++) levels.push(hashNode(levels[l - 1] as Hash, levels[l - 1] as Hash));
  const root = (n: number): Hash => {
    let k = 1;
    while (k * 2 < n) k *= 2;
    if (n === 1 || k * 2 === n) return levels[Math.log2(n)] as Hash;
    return hashNode(levels[Math.log2(k)] as Hash, root(n - k));
  };
  const hashes: HashReader = {
    readHashes: async (indexes) => indexes.map((i) => levels[splitStoredHashIndex(i).level] as Hash),
  };
  return { levels, hashes, root };
}
