// A read-only view of a data directory for CLI commands that may run beside a live server:
// it never takes the writer's lock and sees the log as of the latest signed checkpoint,
// whose signature is checked against the log's own verifier key.
import { FsLogReader } from "./fs-reader.js";
import { readVerifierKey } from "./keys.js";
import { LogError, type LogReader, type SignedCheckpoint } from "./types.js";
import { NoteVerifier, openCheckpoint } from "../tlog/index.js";

export interface LogSnapshot extends LogReader {
  readonly verifierKey: string;
  /** For serving or exporting the static layout (tiles, bundles). */
  readonly files: FsLogReader;
}

/** Opens the log in dataDir at its latest checkpoint; throws LogError when there is none. */
export async function openLogSnapshot(dataDir: string): Promise<LogSnapshot> {
  const files = new FsLogReader(dataDir);
  const verifierKey = await readVerifierKey(dataDir);
  const note = await files.readCheckpointNote();
  if (note === null)
    throw new LogError("corrupt", `${dataDir}: no checkpoint yet (the log has never been integrated)`);
  const cp = openCheckpoint(note, NoteVerifier.fromKey(verifierKey));
  const checkpoint: SignedCheckpoint = { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note };
  return {
    origin: cp.origin,
    verifierKey,
    files,
    size: () => cp.size,
    latestCheckpoint: () => checkpoint,
    readEntries: (start, end) => files.readEntries(start, end),
    hashReader: () => files.hashReader(cp.size),
  };
}
