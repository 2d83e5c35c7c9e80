// kubetrail/tlog: the pure Merkle log library (no I/O). See README.md.

export { TlogError, type TlogErrorCode } from "./errors.js";
export { type Hash, HASH_SIZE, emptyTreeHash, hashLeaf, hashNode, hashesEqual, isHash } from "./hash.js";
export {
  consistencyProof,
  inclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from "./tree.js";
export {
  type HashReader,
  memoryHashReader,
  proveConsistency,
  proveInclusion,
  readHashesChecked,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashesForLeaf,
  storedHashIndex,
  subtreeIndexes,
  treeHash,
} from "./stored.js";
export {
  type ParsedTilePath,
  type Tile,
  MAX_TILE_LEVEL,
  TILE_HEIGHT,
  TILE_WIDTH,
  entryBundlePath,
  fullTileHash,
  hashFromTile,
  parseTilePath,
  readTileData,
  tileAncestor,
  tileForStoredHash,
  tilePath,
  tilesForSize,
  treeTiles,
} from "./tile.js";
export { type TileReader, tileHashReader } from "./tile-hash-reader.js";
export {
  type NoteSignature,
  type OpenedNote,
  type Signer,
  type Verifier,
  openNote,
  signNote,
} from "./note.js";
export { NoteSigner, NoteVerifier, generateNoteKey } from "./note-key.js";
export { type VerifierKeyText, isValidKeyName, noteKeyHash, parseVerifierKey } from "./note-key-text.js";
export {
  type Checkpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
export { decodeBase64, encodeBase64 } from "./base64.js";
