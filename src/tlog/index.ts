// kubetrail/tlog: the pure Merkle log library (no I/O). See README.md.

export { TlogError, type TlogErrorCode } from "./errors.js";
export {
  type Hash,
  HASH_SIZE,
  emptyTreeHash,
  hashLeaf,
  hashNode,
  hashesEqual,
  isHash,
  perfectTreeRoots,
  writeLeafHash,
} from "./hash.js";
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
  proveInclusions,
  readHashesChecked,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashesForLeaf,
  storedHashIndex,
  subtreeIndexes,
  treeHash,
} from "./stored.js";
export { cachingHashReader, StoredHashCache } from "./hash-cache.js";
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
export type { Signer, Verifier } from "./signer.js";
export { newSigner, newVerifier } from "./keys.js";
export { NoteSigner, NoteVerifier, generateNoteKey } from "./note-key.js";
export { keyId } from "./note-key-text.js";
export { type KeyText, parseVerifierKey } from "./note-key-text.js";
export {
  type NoteSignature,
  type OpenedNote,
  type SplitNote,
  type VerifiedSignature,
  attachSignatures,
  isValidKeyName,
  noteKeyHash,
  openNote,
  openNoteAsync,
  parseSignatureLine,
  signatureBytes,
  signNote,
  signNoteWith,
  splitNote,
} from "./note.js";
export {
  CosignatureSigner,
  CosignatureVerifier,
  cosignatureTime,
  generateCosignatureKey,
} from "./cosignature.js";
export {
  type Checkpoint,
  type Cosignature,
  type OpenedCheckpoint,
  formatCheckpoint,
  openCheckpoint,
  openCheckpointAsync,
  checkpointCosignatures,
  parseCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
export { decodeBase64, encodeBase64 } from "./base64.js";
export {
  isValidSubtree,
  proveSubtreeConsistency,
  storedSubtreeHash,
  subtreeConsistencyProof,
  subtreeHashFromLeaves,
  verifySubtreeConsistency,
} from "./subtree.js";
export {
  type AddCheckpointRequest,
  addCheckpointOrigin,
  MAX_PROOF_LINES,
  SIZE_CONTENT_TYPE,
  formatAddCheckpointRequest,
  formatCosignatureResponse,
  formatSizeBody,
  parseAddCheckpointRequest,
  parseCosignatureResponse,
  parseSizeBody,
} from "./witness-protocol.js";
export {
  type AddEntriesHeader,
  type EntryPackage,
  type LengthPrefix,
  type MirrorInfo,
  type PackageRange,
  AddEntriesDecoder,
  ENTRY_LENGTH_HEADER,
  MAX_PACKAGES_PER_REQUEST,
  MIRROR_INFO_CONTENT_TYPE,
  PACKAGE_SIZE,
  encodeAddEntriesHeader,
  encodeEntryPackage,
  formatMirrorInfo,
  lengthPrefixFor,
  packageRanges,
  parseMirrorInfo,
} from "./mirror-protocol.js";
