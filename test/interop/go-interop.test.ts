// Interop with Go's golang.org/x/mod/sumdb/{note,tlog}, the reference implementation of the
// signed-note, checkpoint and tile formats: Go checks what kubetrail produces and kubetrail
// checks what Go produces. The Go side (go/main.go) is built here with the Debian packages
// golang-go and golang-golang-x-mod-dev (GOPATH mode, no network).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Hash,
  type Tile,
  type TileReader,
  CosignatureSigner,
  CosignatureVerifier,
  NoteSigner,
  NoteVerifier,
  attachSignatures,
  consistencyProof,
  generateCosignatureKey,
  parseCheckpoint,
  signNote,
  splitNote,
  formatCheckpoint,
  generateNoteKey,
  hashLeaf,
  inclusionProof,
  memoryHashReader,
  openCheckpoint,
  proveConsistency,
  proveInclusion,
  readTileData,
  rootFromLeafHashes,
  signCheckpoint,
  tileHashReader,
  tilePath,
  tilesForSize,
  treeHash,
  treeTiles,
  verifyConsistency,
  verifyInclusion,
} from "../../src/tlog/index.js";
import { buildGoInterop, runGo as runGoHelper, skipGo } from "./go-helper.js";

const b64 = (h: Uint8Array): string => Buffer.from(h).toString("base64");
const unb64 = (s: string): Hash => new Uint8Array(Buffer.from(s, "base64"));
const entry = (i: number): Uint8Array => new TextEncoder().encode(`{"kind":"interop","n":${i}}`);

function flipFirstBit(proof: Hash[]): Hash[] {
  return proof.map((h, i) => (i === 0 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h));
}

function dirTileReader(dir: string): TileReader {
  return {
    readTiles: async (tiles: Tile[]) =>
      tiles.map((t) => new Uint8Array(readFileSync(path.join(dir, tilePath(t))))),
  };
}

// Fails (rather than skips) without Go on CI, as the brief for this suite requires.
describe.skipIf(skipGo)("Go sumdb/note and sumdb/tlog interop", () => {
  let work = "";
  let binary = "";

  function runGo<T>(command: "check" | "produce", request: unknown): T {
    return runGoHelper<T>(binary, command, request);
  }

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "kubetrail-go-interop-"));
    binary = buildGoInterop(work);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("Go opens kubetrail checkpoints and accepts kubetrail proofs and tiles", async () => {
    const SIZE = 70_000; // three tile levels, with partial tiles on each
    const leaves = Array.from({ length: SIZE }, (_, i) => hashLeaf(entry(i)));
    const stored = memoryHashReader(leaves);
    const origin = "kubetrail.test/interop";
    const keys = generateNoteKey(origin);
    const signer = NoteSigner.fromKey(keys.signerKey);
    const root = await treeHash(SIZE, stored);
    const note = await signCheckpoint({ origin, size: SIZE, rootHash: root, extensions: [] }, signer);
    // Published the way the log publishes: signed, then a witness's cosignature/v1 line attached.
    const witnessKeys = generateCosignatureKey("witness.test/w1");
    const witness = CosignatureSigner.fromKey(witnessKeys.signerKey, () => 1_700_000_123_456);
    const cosigned = attachSignatures(
      note,
      splitNote(await signNote(splitNote(note).text, [witness])).signatures,
    );

    const tileDir = path.join(work, "kubetrail-tiles");
    for (const tile of treeTiles(SIZE)) {
      const file = path.join(tileDir, tilePath(tile));
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, await readTileData(tile, stored));
    }

    // Small trees use the in-memory builders, the big one the stored-hash ones.
    const small = Array.from({ length: 40 }, (_, i) => i + 1);
    const inclusion: { index: number; size: number; leaf: string; root: string; proof: string[] }[] = [];
    const consistency: { size1: number; size2: number; root1: string; root2: string; proof: string[] }[] = [];
    const smallRoots = [rootFromLeafHashes([]), ...small.map((n) => rootFromLeafHashes(leaves.slice(0, n)))];
    for (const size of small) {
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(index, size, leaves);
        inclusion.push({
          index,
          size,
          leaf: b64(leaves[index] as Hash),
          root: b64(smallRoots[size] as Hash),
          proof: proof.map(b64),
        });
      }
      for (let size1 = 1; size1 <= size; size1++) {
        const proof = consistencyProof(size1, size, leaves);
        const [root1, root2] = [smallRoots[size1] as Hash, smallRoots[size] as Hash];
        consistency.push({
          size1,
          size2: size,
          root1: b64(root1),
          root2: b64(root2),
          proof: proof.map(b64),
        });
      }
    }
    const bigIndexes = [0, 1, 255, 256, 65_535, 65_536, 69_887, SIZE - 1];
    const bigSizes = [1, 2, 256, 257, 65_536, 69_888, SIZE - 1, SIZE];
    for (const index of bigIndexes) {
      const proof = await proveInclusion(SIZE, index, stored);
      inclusion.push({
        index,
        size: SIZE,
        leaf: b64(leaves[index] as Hash),
        root: b64(root),
        proof: proof.map(b64),
      });
    }
    for (const size1 of bigSizes) {
      const proof = await proveConsistency(size1, SIZE, stored);
      const root1 = await treeHash(size1, stored);
      consistency.push({ size1, size2: SIZE, root1: b64(root1), root2: b64(root), proof: proof.map(b64) });
    }
    // The same proofs with one bit flipped: Go must refuse every one that has a hash to flip.
    const corruptInclusion = inclusion
      .filter((c) => c.proof.length > 0)
      .map((c) => ({ ...c, proof: flipFirstBit(c.proof.map(unb64)).map(b64) }));
    const corruptConsistency = consistency
      .filter((c) => c.proof.length > 0)
      .map((c) => ({ ...c, proof: flipFirstBit(c.proof.map(unb64)).map(b64) }));

    const growth: [number, number][] = [
      [0, 1],
      [0, 256],
      [5, 7],
      [255, 257],
      [300, 70_000],
      [65_535, 65_537],
    ];
    const response = runGo<{
      origin: string;
      size: number;
      root: string;
      signers: string[];
      inclusion: string[];
      consistency: string[];
      tileRoot: string;
      tileRecordProofs: string[][];
      tileTreeProofs: string[][];
      newTiles: string[][];
      cosignedLogOnly: string[];
      cosignedUnknown: string[];
      cosignedWithBoth: string[];
      cosignatureTime: number;
    }>("check", {
      verifierKey: keys.verifierKey,
      checkpoint: note,
      inclusion: [...inclusion, ...corruptInclusion],
      consistency: [...consistency, ...corruptConsistency],
      tileDir,
      proveIndexes: bigIndexes,
      proveSizes: bigSizes,
      newTiles: growth,
      cosignedCheckpoint: cosigned,
      witnessKey: witnessKeys.verifierKey,
    });

    expect(response.origin).toBe(origin);
    expect(response.size).toBe(SIZE);
    expect(response.root).toBe(b64(root));
    const logId = keys.verifierKey.split("+").slice(0, 2).join("+");
    const witnessId = witnessKeys.verifierKey.split("+").slice(0, 2).join("+");
    expect(response.signers).toEqual([logId]);
    // The extra signature line does not stop Go's note.Open: with the log's key alone the
    // witness's line is left unverified, and Go's own cosignature/v1 verifier accepts it.
    expect(response.cosignedLogOnly).toEqual([logId]);
    expect(response.cosignedUnknown).toEqual([witnessId]);
    expect(response.cosignedWithBoth).toEqual([logId, witnessId]);
    expect(response.cosignatureTime).toBe(1_700_000_123);
    // And kubetrail opens the same note with the log's key alone and with both.
    expect(openCheckpoint(cosigned, NoteVerifier.fromKey(keys.verifierKey)).unverified).toHaveLength(1);
    expect(
      openCheckpoint(cosigned, [
        NoteVerifier.fromKey(keys.verifierKey),
        CosignatureVerifier.fromKey(witnessKeys.verifierKey),
      ]).cosignatures,
    ).toEqual([{ name: "witness.test/w1", keyHash: witness.keyHash, time: 1_700_000_123 }]);
    expect(response.inclusion.slice(0, inclusion.length).every((r) => r === "ok")).toBe(true);
    expect(response.inclusion.slice(inclusion.length).filter((r) => r === "ok")).toEqual([]);
    expect(response.inclusion).toHaveLength(inclusion.length + corruptInclusion.length);
    expect(response.consistency.slice(0, consistency.length).every((r) => r === "ok")).toBe(true);
    expect(response.consistency.slice(consistency.length).filter((r) => r === "ok")).toEqual([]);
    expect(response.consistency).toHaveLength(consistency.length + corruptConsistency.length);

    // Go's TileHashReader authenticated kubetrail's tiles against the signed root and built
    // the same proofs from them.
    expect(response.tileRoot).toBe(b64(root));
    for (const [i, index] of bigIndexes.entries()) {
      expect(response.tileRecordProofs[i]).toEqual((await proveInclusion(SIZE, index, stored)).map(b64));
    }
    for (const [i, size1] of bigSizes.entries()) {
      expect(response.tileTreeProofs[i] ?? []).toEqual(
        (await proveConsistency(size1, SIZE, stored)).map(b64),
      );
    }

    // tilesForSize is Go's NewTiles minus the old size's partial tiles, which did not change.
    growth.forEach(([oldSize, newSize], i) => {
      const unchanged = new Set(treeTiles(oldSize).map(tilePath));
      const goTiles = (response.newTiles[i] ?? []).filter((p) => !unchanged.has(p));
      expect(tilesForSize(oldSize, newSize).map(tilePath)).toEqual(goTiles);
    });
  });

  it("kubetrail accepts Go-signed checkpoints, Go proofs and Go tiles, and signs byte-identically", async () => {
    const SIZE = 5_000;
    const origin = "go.test/interop";
    const ours = generateNoteKey(origin);
    const witnessKeys = generateCosignatureKey("go.test/witness");
    const tileDir = path.join(work, "go-tiles");
    const inclusionPairs: [number, number][] = [
      [0, 1],
      [3, 7],
      [4_999, 5_000],
      [1_234, 5_000],
      [256, 4_097],
    ];
    const consistencyPairs: [number, number][] = [
      [1, 2],
      [3, 7],
      [256, 5_000],
      [4_999, 5_000],
      [1_000, 4_097],
    ];
    const response = runGo<{
      verifierKey: string;
      checkpoint: string;
      checkpointByGivenKey: string;
      roots: string[];
      inclusion: string[][];
      consistency: string[][];
      tilePaths: string[];
      cosignedCheckpoint: string;
    }>("produce", {
      origin,
      entries: Array.from({ length: SIZE }, (_, i) => new TextDecoder().decode(entry(i))),
      signerKey: ours.signerKey,
      inclusion: inclusionPairs,
      consistency: consistencyPairs,
      tileDir,
      witnessSignerKey: witnessKeys.signerKey,
      cosignTime: 1_690_000_000,
    });

    const leaves = Array.from({ length: SIZE }, (_, i) => hashLeaf(entry(i)));
    const stored = memoryHashReader(leaves);
    const roots = response.roots.map(unb64);
    for (const size of [1, 2, 3, 4, 5, 100, 255, 256, 257, 4_097, SIZE]) {
      expect(b64(await treeHash(size, stored))).toBe(b64(roots[size - 1] as Hash));
    }
    expect(b64(rootFromLeafHashes(leaves.slice(0, 300)))).toBe(b64(roots[299] as Hash));

    const cp = openCheckpoint(response.checkpoint, NoteVerifier.fromKey(response.verifierKey));
    expect({ ...parseCheckpoint(formatCheckpoint(cp)), rootHash: b64(cp.rootHash) }).toEqual({
      origin,
      size: SIZE,
      rootHash: b64(roots[SIZE - 1] as Hash),
      extensions: [],
    });
    // Ed25519 is deterministic: the same key over the same text gives the same note, byte for byte.
    expect(await signCheckpoint(cp, NoteSigner.fromKey(ours.signerKey))).toBe(response.checkpointByGivenKey);

    // Go's witness (its own cosignature/v1 code) cosigned Go's checkpoint: kubetrail checks the
    // cosignature and still opens the note with the log's key alone.
    const goLog = NoteVerifier.fromKey(response.verifierKey);
    const cosignedByGo = openCheckpoint(response.cosignedCheckpoint, [
      goLog,
      CosignatureVerifier.fromKey(witnessKeys.verifierKey),
    ]);
    expect(cosignedByGo.cosignatures).toEqual([
      {
        name: "go.test/witness",
        keyHash: CosignatureVerifier.fromKey(witnessKeys.verifierKey).keyHash,
        time: 1_690_000_000,
      },
    ]);
    expect(openCheckpoint(response.cosignedCheckpoint, goLog).unverified.map((s) => s.name)).toEqual([
      "go.test/witness",
    ]);
    expect(formatCheckpoint(cp)).toBe(response.checkpoint.slice(0, response.checkpoint.indexOf("\n\n") + 1));

    for (const [i, [index, size]] of inclusionPairs.entries()) {
      const proof = (response.inclusion[i] ?? []).map(unb64);
      expect(verifyInclusion(leaves[index] as Hash, index, size, proof, roots[size - 1] as Hash)).toBe(true);
      expect(
        verifyInclusion(leaves[index] as Hash, index, size, flipFirstBit(proof), roots[size - 1] as Hash),
      ).toBe(proof.length === 0);
      expect((await proveInclusion(size, index, stored)).map(b64)).toEqual(response.inclusion[i]);
    }
    for (const [i, [size1, size2]] of consistencyPairs.entries()) {
      const proof = (response.consistency[i] ?? []).map(unb64);
      const [root1, root2] = [roots[size1 - 1] as Hash, roots[size2 - 1] as Hash];
      expect(verifyConsistency(size1, size2, proof, root1, root2)).toBe(true);
      expect(verifyConsistency(size1, size2, flipFirstBit(proof), root1, root2)).toBe(false);
      expect((await proveConsistency(size1, size2, stored)).map(b64)).toEqual(response.consistency[i]);
    }

    // Go's tiles, read and authenticated against the Go-signed root, give the same proofs.
    const tiles = tileHashReader(SIZE, dirTileReader(tileDir), cp.rootHash);
    expect(b64(await treeHash(SIZE, tiles))).toBe(b64(cp.rootHash));
    for (const index of [0, 255, 256, 2_500, SIZE - 1]) {
      expect((await proveInclusion(SIZE, index, tiles)).map(b64)).toEqual(
        (await proveInclusion(SIZE, index, stored)).map(b64),
      );
    }
    for (const p of treeTiles(SIZE).map(tilePath)) expect(response.tilePaths).toContain(p);
  });
});
