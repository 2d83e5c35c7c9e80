// `kubetrail status`: what a data directory holds and how far each consumer of the log has got,
// read from its files only — no lock, no write, nothing opened for writing — so it runs on a
// stopped log and beside a running serve alike, and never slows ingest. Derived files (index,
// detector position, dedupe store, guard state) are checked as far as is cheap; a damaged one is
// reported as "damaged" for its part, never as a failure of the whole report: each is rebuilt
// from the log by whoever uses it next.
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import { KUBETRAIL_API_VERSION } from "../audit/types.js";
import { readPosition } from "../detect/position.js";
import { readNamespaceFile, namespaceFile } from "../guard/namespace-file.js";
import { readManifest } from "../ingest/run-store/manifest.js";
import { PUBLISHED_CHECKPOINT_FILE } from "../publish/cosigning.js";
import { classify } from "../retention/policy.js";
import { splitBundle } from "../store/bundle-format.js";
import { readRegularFile } from "../store/fs/bounded-read.js";
import { FsLogFiles } from "../store/fs/files.js";
import { readVerifierKey } from "../store/fs/keys.js";
import { readRetention } from "../store/fs/retention.js";
import { readSignedCheckpoint } from "../store/log-reader.js";
import { BUNDLE_SIZE, MAX_CHECKPOINT_BYTES } from "../store/types.js";
import { encodeBase64, NoteVerifier, parseCheckpoint, splitNote } from "../tlog/index.js";
import { diskUse, type DiskReport } from "./disk.js";
import { readIndexPosition } from "./index-position.js";

export type PartState = "ok" | "missing" | "not-run" | "outdated" | "rebuilding" | "damaged";

/** How far one consumer of the log (index, detector, dedupe store) has got. */
export interface Progress {
  state: PartState;
  /** Entries [0, position) are done. */
  position?: number;
  /** Entries of the log not done yet. */
  lagEntries?: number;
  /** Age of the first entry not done yet, by its own timestamp (null: none, or it has none). */
  oldestPendingAgeSeconds?: number | null;
  message?: string;
}

export interface StatusReport {
  apiVersion: typeof KUBETRAIL_API_VERSION;
  kind: "Status";
  /** When the report was taken (RFC 3339). */
  time: string;
  log: {
    origin: string | null;
    /** Entries in the log: the latest checkpoint's size, or what a running serve has appended. */
    entries: number;
    from: "checkpoint" | "serve";
  };
  checkpoint: {
    state: "ok" | "missing" | "damaged";
    size?: number;
    rootHash?: string;
    /** When the checkpoint file was written (its modification time), RFC 3339. */
    writtenAt?: string;
    ageSeconds?: number;
    /** The signed note itself, for a remote client to check against the key it pins. */
    note?: string;
    message?: string;
  };
  index: Progress;
  detector: Progress;
  dedupe: Progress;
  guard: { state: "ok" | "not-run" | "damaged"; message?: string };
  retention: { state: "ok" | "damaged"; prunedBefore: number; reason?: string; message?: string };
  /**
   * The checkpoint serve publishes with its witnesses' cosignatures (`serve --cosigners`;
   * "not-run" without). `behind` is how many entries the log's own checkpoint has beyond it:
   * held back (failMode closed, short of the quorum) or cosigners lagging. `cosigners` are the
   * names on its other signature lines, as written; `verify --witness` is what checks them.
   */
  published: {
    state: "ok" | "not-run" | "damaged";
    size?: number;
    behind?: number;
    ageSeconds?: number;
    cosigners?: string[];
    message?: string;
  };
  disk: DiskReport;
}

/** What a running serve knows better than its files. */
export interface LiveStatus {
  logSize: number;
  /** The running indexer's position and state (absent: read index.db). */
  index?: { position: number; state: "ready" | "rebuilding" | "degraded"; message?: string };
  /** The running detector's position (absent: read detect.position, when there is one). */
  detectorPosition?: number;
}

export interface CollectOptions {
  live?: LiveStatus;
  now?: () => number;
}

export async function collectStatus(dataDir: string, opts: CollectOptions = {}): Promise<StatusReport> {
  const now = (opts.now ?? Date.now)();
  const files = new FsLogFiles(dataDir);
  const checkpoint = await readCheckpointStatus(dataDir, files, now);
  const entries = opts.live?.logSize ?? checkpoint.size ?? 0;
  const readable = checkpoint.size ?? 0;
  const pending = (position: number, base: Omit<Progress, "lagEntries" | "position">): Promise<Progress> =>
    progress(files, position, entries, readable, now, base);

  const live = opts.live?.index;
  const index: Progress = live
    ? await pending(live.position, {
        state: live.state === "rebuilding" ? "rebuilding" : live.state === "degraded" ? "damaged" : "ok",
        ...(live.message === undefined ? {} : { message: live.message }),
      })
    : await fromIndexFile(dataDir, pending);

  let detector: Progress;
  if (opts.live?.detectorPosition !== undefined) {
    detector = await pending(opts.live.detectorPosition, { state: "ok" });
  } else {
    detector = await fromFile(async () => {
      const file = path.join(dataDir, "detect.position");
      if (!existsSync(file))
        return { state: "not-run", message: "no detect.position (written by serve's detector)" };
      return pending(await readPosition(file), { state: "ok" });
    });
  }

  const dedupe = await fromFile(async () => {
    const manifest = readManifest(path.join(dataDir, "dedupe"));
    if (manifest === null) return { state: "missing", message: "no dedupe store (built by import or serve)" };
    if (manifest.damaged !== undefined)
      return { state: "damaged", message: `${manifest.damaged}; rebuilt on the next open` };
    return pending(manifest.covered, { state: "ok" });
  });

  const guard = await guardStatus(dataDir);
  let retention: StatusReport["retention"];
  try {
    const r = await readRetention(files.layout.retention);
    retention = { state: "ok", prunedBefore: r?.prunedBefore ?? 0, ...(r ? { reason: r.reason } : {}) };
  } catch (err) {
    retention = { state: "damaged", prunedBefore: 0, message: (err as Error).message };
  }

  return {
    apiVersion: KUBETRAIL_API_VERSION,
    kind: "Status",
    time: new Date(now).toISOString(),
    log: { origin: checkpoint.origin ?? null, entries, from: opts.live ? "serve" : "checkpoint" },
    checkpoint: checkpoint.report,
    index,
    detector,
    dedupe,
    guard,
    retention,
    published: await publishedStatus(dataDir, checkpoint.size, now),
    disk: await diskUse(dataDir),
  };
}

/** A part read from its file; whatever reading it throws makes that part "damaged", nothing more. */
async function fromFile(read: () => Promise<Progress>): Promise<Progress> {
  try {
    return await read();
  } catch (err) {
    return { state: "damaged", message: (err as Error).message };
  }
}

async function fromIndexFile(
  dataDir: string,
  pending: (position: number, base: Omit<Progress, "lagEntries" | "position">) => Promise<Progress>,
): Promise<Progress> {
  const file = readIndexPosition(dataDir);
  if (file.state === "missing" || file.state === "damaged") return file;
  return pending(
    file.position,
    file.state === "outdated" ? { state: "outdated", message: file.message } : { state: "ok" },
  );
}

async function readCheckpointStatus(
  dataDir: string,
  files: FsLogFiles,
  now: number,
): Promise<{ report: StatusReport["checkpoint"]; size?: number; origin?: string }> {
  let written: number;
  try {
    written = (await fsp.stat(files.layout.checkpoint)).mtimeMs;
  } catch {
    return { report: { state: "missing", message: "no checkpoint: the log never signed one" } };
  }
  try {
    const cp = await readSignedCheckpoint(files, NoteVerifier.fromKey(await readVerifierKey(dataDir)));
    if (cp === null)
      return { report: { state: "missing", message: "no checkpoint: the log never signed one" } };
    return {
      size: cp.size,
      origin: cp.origin,
      report: {
        state: "ok",
        size: cp.size,
        rootHash: encodeBase64(cp.rootHash),
        writtenAt: new Date(written).toISOString(),
        ageSeconds: ageSeconds(now, written),
        note: cp.note,
      },
    };
  } catch (err) {
    return { report: { state: "damaged", message: (err as Error).message } };
  }
}

/** Seconds since a file was written (its mtime), to a tenth. */
function ageSeconds(now: number, writtenMs: number): number {
  return Math.max(0, Math.round((now - writtenMs) / 100) / 10);
}

async function publishedStatus(
  dataDir: string,
  logSize: number | undefined,
  now: number,
): Promise<StatusReport["published"]> {
  const file = path.join(dataDir, PUBLISHED_CHECKPOINT_FILE);
  let note: string;
  let written: number;
  try {
    // Bounded, and only a regular file: a FIFO or a huge file there must not hang status.
    const data = await readRegularFile(file, MAX_CHECKPOINT_BYTES, PUBLISHED_CHECKPOINT_FILE);
    if (data === null)
      return { state: "not-run", message: "no published checkpoint (serve --cosigners keeps one)" };
    note = data.toString("utf8");
    written = (await fsp.stat(file)).mtimeMs;
  } catch (err) {
    return { state: "damaged", message: (err as Error).message };
  }
  try {
    const { text, signatures } = splitNote(note);
    const cp = parseCheckpoint(text);
    return {
      state: "ok",
      size: cp.size,
      ...(logSize === undefined ? {} : { behind: Math.max(0, logSize - cp.size) }),
      ageSeconds: ageSeconds(now, written),
      cosigners: [...new Set(signatures.filter((s) => s.name !== cp.origin).map((s) => s.name))].sort(),
    };
  } catch (err) {
    return { state: "damaged", message: `${file}: ${(err as Error).message}; serve writes it again` };
  }
}

/**
 * The progress at `position` of a log of `entries`, with the age of the first pending entry
 * read from its bundle when it is under the checkpoint (`readable` entries).
 */
async function progress(
  files: FsLogFiles,
  position: number,
  entries: number,
  readable: number,
  now: number,
  base: Omit<Progress, "lagEntries" | "position">,
): Promise<Progress> {
  if (position > entries)
    return {
      state: "damaged",
      position,
      message: `position ${position} is beyond the log (${entries} entries); rebuilt from the log on the next start`,
    };
  const lag = entries - position;
  let age: number | null = null;
  if (lag > 0 && position < readable) {
    const time = await entryTime(files, position, readable).catch(() => null);
    if (time !== null) age = Math.max(0, Math.round((now - time) / 100) / 10);
  }
  return { ...base, position, lagEntries: lag, oldestPendingAgeSeconds: age };
}

/** The timestamp of entry `index` (an audit event's stage time, or a record's time), in ms. */
async function entryTime(files: FsLogFiles, index: number, readable: number): Promise<number | null> {
  const start = index - (index % BUNDLE_SIZE);
  const bundle = await files.readEntryBundle(start / BUNDLE_SIZE, Math.min(BUNDLE_SIZE, readable - start));
  if (bundle?.data === undefined) return null;
  const line = splitBundle(bundle.data)[index - start];
  if (line === undefined || line.length === 0) return null;
  const us = classify(line).timeUs;
  return us === null ? null : us / 1000;
}

async function guardStatus(dataDir: string): Promise<StatusReport["guard"]> {
  const file = namespaceFile(dataDir);
  if (!existsSync(file))
    return { state: "not-run", message: "no guard state (serve --guard-policies writes it)" };
  let problem: string | undefined;
  try {
    await readNamespaceFile(file, (why) => (problem = why));
  } catch (err) {
    problem = (err as Error).message;
  }
  return problem === undefined ? { state: "ok" } : { state: "damaged", message: problem };
}
