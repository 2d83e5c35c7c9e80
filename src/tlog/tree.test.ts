import { describe, expect, it } from "vitest";
import { TlogError } from "./errors.js";
import { type Hash, emptyTreeHash, hashLeaf } from "./hash.js";
import { memoryHashReader, proveConsistency, proveInclusion } from "./stored.js";
import {
  consistencyProof,
  inclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from "./tree.js";
import { flipBit, fromHex, hex, reshapedProofs, testLeaves } from "./testdata/helpers.js";
import vectors from "./testdata/rfc6962-vectors.json" with { type: "json" };

const kat = {
  leaves: vectors.leaves.map((d) => hashLeaf(fromHex(d))),
  roots: vectors.roots.map(fromHex),
};

describe("RFC 6962 known-answer vectors", () => {
  it("roots of every prefix of the 8-leaf tree and of the empty tree", () => {
    expect(hex(rootFromLeafHashes([]))).toBe(vectors.emptyRoot);
    expect(hex(emptyTreeHash())).toBe(vectors.emptyRoot);
    for (let n = 1; n <= 8; n++)
      expect(hex(rootFromLeafHashes(kat.leaves.slice(0, n)))).toBe(vectors.roots[n - 1]);
  });

  it.each(vectors.inclusion)("inclusion proof of leaf $leaf in tree $size", async ({ leaf, size, proof }) => {
    const index = leaf - 1;
    expect(inclusionProof(index, size, kat.leaves).map(hex)).toEqual(proof);
    expect((await proveInclusion(size, index, memoryHashReader(kat.leaves.slice(0, size)))).map(hex)).toEqual(
      proof,
    );
    const root = kat.roots[size - 1] as Hash;
    expect(verifyInclusion(kat.leaves[index] as Hash, index, size, proof.map(fromHex), root)).toBe(true);
  });

  it.each(vectors.consistency)("consistency proof $size1 → $size2", async ({ size1, size2, proof }) => {
    expect(consistencyProof(size1, size2, kat.leaves).map(hex)).toEqual(proof);
    expect(
      (await proveConsistency(size1, size2, memoryHashReader(kat.leaves.slice(0, size2)))).map(hex),
    ).toEqual(proof);
    const [root1, root2] = [kat.roots[size1 - 1] as Hash, kat.roots[size2 - 1] as Hash];
    expect(verifyConsistency(size1, size2, proof.map(fromHex), root1, root2)).toBe(true);
  });
});

const MAX = 64;
const leaves = testLeaves(MAX);
const roots = Array.from({ length: MAX + 1 }, (_, n) => rootFromLeafHashes(leaves.slice(0, n)));
// Proof lengths from the RFC 6962 recursion alone, to tell which wrong sizes must fail.
function inclusionPathLength(m: number, n: number): number {
  if (n <= 1) return 0;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return 1 + (m < k ? inclusionPathLength(m, k) : inclusionPathLength(m - k, n - k));
}
function consistencyPathLength(m: number, n: number, whole = true): number {
  if (m === n) return whole ? 0 : 1;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return 1 + (m <= k ? consistencyPathLength(m, k, whole) : consistencyPathLength(m - k, n - k, false));
}

const other = hashLeaf(new TextEncoder().encode("not in the tree"));

// Checks are gathered and asserted once per test: hundreds of thousands of expect() calls
// would cost more than the hashing under test.
class Findings {
  readonly wrong: string[] = [];
  mustFail(ok: boolean, what: () => string): void {
    if (ok) this.wrong.push(what());
  }
  mustHold(ok: boolean, what: () => string): void {
    if (!ok) this.wrong.push(what());
  }
}
const same = (a: readonly Hash[], b: readonly Hash[]): boolean => a.map(hex).join() === b.map(hex).join();

describe(`every inclusion proof in trees of up to ${MAX} leaves`, () => {
  it("is identical in memory and from stored hashes, verifies, and fails when corrupted", async () => {
    const f = new Findings();
    for (let size = 1; size <= MAX; size++) {
      const reader = memoryHashReader(leaves.slice(0, size));
      const root = roots[size] as Hash;
      for (let index = 0; index < size; index++) {
        const at = `leaf ${index} of ${size}`;
        const leaf = leaves[index] as Hash;
        const proof = inclusionProof(index, size, leaves);
        f.mustHold(
          same(await proveInclusion(size, index, reader), proof),
          () => `${at}: stored proof differs`,
        );
        f.mustHold(verifyInclusion(leaf, index, size, proof, root), () => `${at}: does not verify`);

        // Every bit of every element for small trees; one bit per element (varying) above.
        for (let e = 0; e < proof.length; e++) {
          const bits = size <= 8 ? Array.from({ length: 256 }, (_, b) => b) : [(index * 37 + e * 11) % 256];
          for (const bit of bits) {
            f.mustFail(
              verifyInclusion(leaf, index, size, flipBit(proof, e, bit), root),
              () => `${at}: bit ${bit} of ${e}`,
            );
          }
        }
        for (const { what, proof: bad } of reshapedProofs(proof, other)) {
          f.mustFail(verifyInclusion(leaf, index, size, bad, root), () => `${at}: ${what}`);
        }
        for (const i of [index - 1, index + 1, index ^ 1, index ^ 2].filter((i) => i >= 0 && i !== index)) {
          f.mustFail(verifyInclusion(leaf, i, size, proof, root), () => `${at}: as index ${i}`);
        }
        // A proof does not authenticate the tree size (the signed checkpoint does): leaf 0 of 3
        // and leaf 0 of 4 have proofs of the same shape. A size whose proof has another shape
        // must fail.
        for (const s of [size - 1, size + 1, size * 2].filter((s) => s > index && s !== size)) {
          if (inclusionPathLength(index, s) !== proof.length) {
            f.mustFail(verifyInclusion(leaf, index, s, proof, root), () => `${at}: as size ${s}`);
          }
        }
        f.mustFail(verifyInclusion(other, index, size, proof, root), () => `${at}: other leaf`);
        f.mustFail(
          verifyInclusion(leaf, index, size, proof, roots[size - 1] as Hash),
          () => `${at}: other root`,
        );
      }
    }
    expect(f.wrong).toEqual([]);
  });
});

describe(`every consistency proof between trees of up to ${MAX} leaves`, () => {
  it("is identical in memory and from stored hashes, verifies, and fails when corrupted", async () => {
    const f = new Findings();
    for (let size2 = 1; size2 <= MAX; size2++) {
      const reader = memoryHashReader(leaves.slice(0, size2));
      const root2 = roots[size2] as Hash;
      for (let size1 = 0; size1 <= size2; size1++) {
        const at = `${size1} → ${size2}`;
        const root1 = roots[size1] as Hash;
        const proof = consistencyProof(size1, size2, leaves);
        f.mustHold(
          same(await proveConsistency(size1, size2, reader), proof),
          () => `${at}: stored proof differs`,
        );
        f.mustHold(verifyConsistency(size1, size2, proof, root1, root2), () => `${at}: does not verify`);
        if (size1 === 0 || size1 === size2) {
          f.mustHold(proof.length === 0, () => `${at}: proof not empty`);
          f.mustFail(verifyConsistency(size1, size2, [other], root1, root2), () => `${at}: non-empty proof`);
          if (size1 > 0)
            f.mustFail(verifyConsistency(size1, size2, [], root1, other), () => `${at}: other root`);
          continue;
        }
        for (let e = 0; e < proof.length; e++) {
          const bits = size2 <= 8 ? Array.from({ length: 256 }, (_, b) => b) : [(size1 * 37 + e * 11) % 256];
          for (const bit of bits) {
            f.mustFail(
              verifyConsistency(size1, size2, flipBit(proof, e, bit), root1, root2),
              () => `${at}: bit ${bit} of ${e}`,
            );
          }
        }
        for (const { what, proof: bad } of reshapedProofs(proof, other)) {
          f.mustFail(verifyConsistency(size1, size2, bad, root1, root2), () => `${at}: ${what}`);
        }
        f.mustFail(verifyConsistency(size1, size2, [], root1, root2), () => `${at}: empty proof`);
        for (const s of [size1 - 1, size1 + 1].filter((s) => s > 0 && s < size2)) {
          f.mustFail(verifyConsistency(s, size2, proof, root1, root2), () => `${at}: as size1 ${s}`);
        }
        for (const s of [size2 - 1, size2 + 1, size2 * 2].filter((s) => s > size1 && s !== size2)) {
          if (consistencyPathLength(size1, s) !== proof.length) {
            f.mustFail(verifyConsistency(size1, s, proof, root1, root2), () => `${at}: as size2 ${s}`);
          }
        }
        f.mustFail(verifyConsistency(size1, size2, proof, root2, root1), () => `${at}: swapped roots`);
        f.mustFail(verifyConsistency(size1, size2, proof, other, root2), () => `${at}: other root1`);
        f.mustFail(verifyConsistency(size1, size2, proof, root1, other), () => `${at}: other root2`);
      }
    }
    expect(f.wrong).toEqual([]);
  });
});

describe("malformed input", () => {
  const root = roots[8] as Hash;
  const proof = inclusionProof(3, 8, leaves);
  const leaf = leaves[3] as Hash;

  it("verifiers return false, never throw", () => {
    expect(verifyInclusion(leaf, 8, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, -1, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 0.5, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 3, Number.NaN, proof, root)).toBe(false);
    expect(verifyInclusion(leaf.subarray(1), 3, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 3, 8, proof, root.subarray(1))).toBe(false);
    expect(verifyInclusion(leaf, 0, 0, [], emptyTreeHash())).toBe(false);
    const c = consistencyProof(3, 8, leaves);
    expect(verifyConsistency(8, 3, c, roots[8] as Hash, roots[3] as Hash)).toBe(false);
    expect(verifyConsistency(-1, 3, [], emptyTreeHash(), roots[3] as Hash)).toBe(false);
    expect(verifyConsistency(0, 3, c, emptyTreeHash(), roots[3] as Hash)).toBe(false);
    expect(verifyConsistency(0, 3, [], other, roots[3] as Hash)).toBe(false);
    expect(verifyConsistency(3, 8, c, (roots[3] as Hash).subarray(2), roots[8] as Hash)).toBe(false);
  });

  it("proof builders throw invalid-proof-input", () => {
    const bad = (f: () => unknown) =>
      expect(f).toThrow(expect.objectContaining({ code: "invalid-proof-input" }));
    bad(() => inclusionProof(8, 8, leaves));
    bad(() => inclusionProof(0, MAX + 1, leaves));
    bad(() => inclusionProof(-1, 8, leaves));
    bad(() => inclusionProof(0, 2, [leaf, leaf.subarray(1)]));
    bad(() => consistencyProof(5, 3, leaves));
    bad(() => consistencyProof(1, MAX + 1, leaves));
    bad(() => rootFromLeafHashes([leaf, new Uint8Array(31)]));
    expect(() => inclusionProof(8, 8, leaves)).toThrow(TlogError);
  });
});
