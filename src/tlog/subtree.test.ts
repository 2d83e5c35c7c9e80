import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashLeaf, type Hash } from "./hash.js";
import { memoryHashReader } from "./stored.js";
import {
  isValidSubtree,
  proveSubtreeConsistency,
  storedSubtreeHash,
  subtreeConsistencyProof,
  subtreeHashFromLeaves,
  verifySubtreeConsistency,
} from "./subtree.js";
import { consistencyProof, inclusionProof, rootFromLeafHashes } from "./tree.js";
import { flipBit, hex, reshapedProofs } from "./testdata/helpers.js";

// The draft's test trees: d[i] is the single byte i.
const vectorLeaves = (n: number): Hash[] => Array.from({ length: n }, (_, i) => hashLeaf(Uint8Array.of(i)));

describe("subtrees (draft-ietf-plants-merkle-tree-certs, accumulated test vectors)", () => {
  const leaves = vectorLeaves(130);

  it("subtree hashes match the published accumulated hash", () => {
    const h = createHash("sha256");
    for (let end = 0; end <= 130; end++) {
      for (let start = 0; start <= end; start++) {
        if (!isValidSubtree(start, end)) continue;
        h.update(`[${start}, ${end}) ${hex(subtreeHashFromLeaves(start, end, leaves))}\n`);
      }
    }
    expect(h.digest("hex")).toBe("b82806ad4265bb151c1119c0f4db437bb4d1a1f887b3a7fba1cd4ebf552e3e81");
  });

  it("subtree consistency proofs match the published accumulated hash", () => {
    const h = createHash("sha256");
    for (let n = 0; n <= 130; n++) {
      for (let end = 0; end <= n; end++) {
        for (let start = 0; start <= end; start++) {
          if (!isValidSubtree(start, end)) continue;
          const proof = subtreeConsistencyProof(start, end, n, leaves);
          h.update(`[${start}, ${end}) ${n}${proof.map((p) => ` ${hex(p)}`).join("")}\n`);
        }
      }
    }
    expect(h.digest("hex")).toBe("10fa99b37bf9bf9ffa26b412fbd98bd75363256d0b75d61bc4538b9c9c5a0a74");
  });

  it("reduces to the RFC 6962 consistency and inclusion proofs", () => {
    for (let n = 1; n <= 40; n++) {
      for (let end = 1; end <= n; end++) {
        expect(subtreeConsistencyProof(0, end, n, leaves)).toEqual(consistencyProof(end, n, leaves));
      }
      for (let i = 0; i < n; i++) {
        expect(subtreeConsistencyProof(i, i + 1, n, leaves)).toEqual(inclusionProof(i, n, leaves));
      }
    }
  });
});

describe("subtree consistency from stored hashes and verification", () => {
  const leaves = vectorLeaves(257);
  const reader = memoryHashReader(leaves);

  it("reads the same proofs and hashes from storage, and every one verifies", async () => {
    for (const n of [1, 2, 3, 7, 8, 13, 14, 64, 257]) {
      const root = rootFromLeafHashes(leaves.slice(0, n));
      for (let end = 0; end <= n; end++) {
        for (let start = 0; start <= end; start++) {
          if (!isValidSubtree(start, end)) continue;
          const proof = await proveSubtreeConsistency(start, end, n, reader);
          expect(proof).toEqual(subtreeConsistencyProof(start, end, n, leaves));
          const node = subtreeHashFromLeaves(start, end, leaves);
          expect(await storedSubtreeHash(start, end, reader)).toEqual(node);
          expect(verifySubtreeConsistency(start, end, n, proof, node, root)).toBe(true);
        }
      }
    }
  });

  it("rejects altered proofs, hashes, sizes and ranges", async () => {
    const n = 14;
    const root = rootFromLeafHashes(leaves.slice(0, n));
    for (const [start, end] of [
      [4, 8],
      [8, 13],
      [8, 14],
      [0, 5],
      [12, 13],
    ] as const) {
      const proof = await proveSubtreeConsistency(start, end, n, reader);
      const node = subtreeHashFromLeaves(start, end, leaves);
      for (let e = 0; e < proof.length; e++) {
        expect(verifySubtreeConsistency(start, end, n, flipBit(proof, e, 3), node, root)).toBe(false);
      }
      for (const { what, proof: bad } of reshapedProofs(proof, leaves[0]!)) {
        expect(verifySubtreeConsistency(start, end, n, bad, node, root), what).toBe(false);
      }
      expect(verifySubtreeConsistency(start, end, n, proof, flipBit([node], 0, 0)[0]!, root)).toBe(false);
      expect(verifySubtreeConsistency(start, end, n, proof, node, flipBit([root], 0, 9)[0]!)).toBe(false);
      expect(verifySubtreeConsistency(start, end + 1, n, proof, node, root)).toBe(false);
    }
    // [3, 5) is not a subtree: nothing verifies for it.
    expect(isValidSubtree(3, 5)).toBe(false);
    expect(() => subtreeConsistencyProof(3, 5, n, leaves)).toThrow(/not a subtree/);
    expect(verifySubtreeConsistency(3, 5, n, [], leaves[3]!, root)).toBe(false);
  });
});
