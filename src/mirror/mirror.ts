// A C2SP tlog-mirror: copies of logs kept in tlog-tiles layout and cosigned only as far as
// they are durably held.
//
// - add-checkpoint updates a log's pending checkpoint exactly as a witness checks a checkpoint
//   (same codes; consistency with every earlier pending checkpoint), without cosigning it.
// - add-entries streams entry packages, each checked by its subtree consistency proof against
//   the pending checkpoint of size upload_end before its entries are written; once all are in,
//   the copy is committed (synced, root checked) and the mirror cosigns that checkpoint.
// - A checkpoint contradicting what the mirror holds is refused and raised as a fork, naming
//   both checkpoints.
//
// add-entries of one log run one at a time (the request that holds the log's turn must finish
// within the server's request timeout); the spec's concurrent uploads are answered in turn.
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import {
  AddEntriesDecoder,
  type CosignatureSigner,
  type EntryPackage,
  formatCosignatureResponse,
  formatMirrorInfo,
  hashLeaf,
  type LengthPrefix,
  MIRROR_INFO_CONTENT_TYPE,
  rootFromLeafHashes,
  TILE_WIDTH,
  TlogError,
  verifySubtreeConsistency,
} from "../tlog/index.js";
import type { CheckpointStore, StoredCheckpoint } from "../witness/checkpoint-store.js";
import type { LogConfig } from "../witness/logs-config.js";
import { inlineChecker } from "../witness/check.js";
import { Witness, type ForkEvidence, type WitnessReply } from "../witness/witness.js";
import { MirroredLog } from "./mirrored-log.js";

export interface MirrorLimits {
  maxEntryBytes: number;
  maxPackageBytes: number;
  /** Entries a request may re-send that the mirror already holds. */
  maxExcessEntries: number;
}

export const DEFAULT_MIRROR_LIMITS: MirrorLimits = {
  maxEntryBytes: 16 * 1024 * 1024,
  maxPackageBytes: 64 * 1024 * 1024,
  maxExcessEntries: 32 * TILE_WIDTH,
};

export interface MirrorOptions {
  dataDir: string;
  logs: () => ReadonlyMap<string, LogConfig>;
  signer: CosignatureSigner;
  /** The pending checkpoint of each log. */
  pending: CheckpointStore;
  limits?: MirrorLimits;
  onFork?: (evidence: ForkEvidence) => void;
  onRepair?: (message: string) => void;
}

/** Pending checkpoints kept per log so an upload to a slightly older one still completes. */
const RECENT_PENDING = 16;

interface LogState {
  log: MirroredLog;
  recent: StoredCheckpoint[];
  turn: Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";
const reply = (status: number, body: string, contentType = TEXT): WitnessReply => ({
  status,
  contentType,
  body,
});

export class Mirror {
  readonly pendingWitness: Witness;
  private readonly states = new Map<string, Promise<LogState>>();
  private readonly limits: MirrorLimits;

  constructor(private readonly opts: MirrorOptions) {
    this.limits = opts.limits ?? DEFAULT_MIRROR_LIMITS;
    this.pendingWitness = new Witness({
      store: opts.pending,
      // Pending checkpoints are recorded with the log's signatures only: no key of its own.
      checker: inlineChecker(),
      logs: opts.logs,
      onFork: opts.onFork,
      onRecorded: (origin, record) => void this.recordPending(origin, record),
    });
  }

  get signer(): CosignatureSigner {
    return this.opts.signer;
  }

  /** The copy of a configured log (opened on first use), or null for an unknown origin. */
  async state(origin: string): Promise<LogState | null> {
    const config = this.opts.logs().get(origin);
    if (!config) return null;
    let state = this.states.get(origin);
    if (!state) {
      state = MirroredLog.open(
        this.opts.dataDir,
        origin,
        config.verifiers,
        config.bundles,
        this.opts.onRepair,
      ).then((log) => {
        const held = this.opts.pending.get(origin);
        return { log, recent: held ? [held] : [], turn: Promise.resolve() };
      });
      this.states.set(origin, state);
      state.catch(() => this.states.delete(origin));
    }
    return state;
  }

  /** Runs `fn` while no other upload or pull of the log runs. */
  async exclusive<T>(state: LogState, fn: () => Promise<T>): Promise<T> {
    const previous = state.turn;
    let release!: () => void;
    state.turn = new Promise<void>((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  addCheckpoint(body: string): Promise<WitnessReply> {
    return this.pendingWitness.addCheckpoint(body);
  }

  private async recordPending(origin: string, record: StoredCheckpoint): Promise<void> {
    const state = await this.state(origin).catch(() => null);
    if (!state) return;
    if (state.recent.some((r) => r.size === record.size)) return;
    state.recent.push(record);
    if (state.recent.length > RECENT_PENDING) state.recent.shift();
  }

  /**
   * Handles one add-entries request body as it streams in. `prefix` is the entry length
   * width (2, or 4 with kubetrail's extension header); `gzip` when the body is gzip-encoded.
   */
  async addEntries(body: Readable, prefix: LengthPrefix, gzip: boolean): Promise<WitnessReply> {
    const decoder = new AddEntriesDecoder(prefix, this.limits);
    const source: Readable = gzip ? body.pipe(createGunzip()) : body;
    const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const pull = async (): Promise<boolean> => {
      const r = await chunks.next();
      if (r.done) return false;
      decoder.push(r.value);
      return true;
    };
    try {
      let header = decoder.header();
      while (!header) {
        if (!(await pull())) return reply(400, "the body ends before the add-entries header");
        header = decoder.header();
      }
      const state = await this.state(header.origin);
      if (!state) return reply(404, `unknown log origin ${JSON.stringify(header.origin.slice(0, 200))}`);
      const h = header;
      return await this.exclusive(state, () => this.upload(state, h, decoder, pull));
    } catch (err) {
      if (err instanceof TlogError && err.code === "malformed-request") return reply(400, err.message);
      if ((err as NodeJS.ErrnoException).code === "Z_DATA_ERROR") return reply(400, `gzip body is corrupt`);
      throw err;
    } finally {
      body.resume();
    }
  }

  private async upload(
    state: LogState,
    header: { uploadStart: number; uploadEnd: number; origin: string },
    decoder: AddEntriesDecoder,
    pull: () => Promise<boolean>,
  ): Promise<WitnessReply> {
    const { log } = state;
    const latest = this.opts.pending.get(header.origin);
    if (!latest) return reply(422, "no pending checkpoint of this log yet: add-checkpoint first");
    const mirrored = log.checkpoint()?.size ?? 0;
    const info = (pendingSize: number): WitnessReply =>
      reply(
        409,
        formatMirrorInfo({ pendingSize, nextEntry: log.next, ticket: new Uint8Array(0) }),
        MIRROR_INFO_CONTENT_TYPE,
      );
    const target = state.recent.find((r) => r.size === header.uploadEnd);
    const targetIsMirrored = header.uploadEnd === mirrored && log.checkpoint() !== null;
    if (!target && !targetIsMirrored) return info(latest.size);
    if (header.uploadEnd < mirrored || header.uploadEnd < log.next) return info(latest.size);
    if (header.uploadStart > log.next) return info(header.uploadEnd);
    if (Math.min(header.uploadEnd, log.next) - header.uploadStart > this.limits.maxExcessEntries)
      return info(header.uploadEnd);
    const root = target?.rootHash ?? log.checkpoint()!.rootHash;
    let saved = 0;
    for (;;) {
      const pkg = decoder.nextPackage();
      if (pkg) {
        const problem = await this.savePackage(log, pkg, header.uploadEnd, root);
        if (problem) return reply(422, problem);
        saved++;
        continue;
      }
      if (decoder.complete || !(await pull())) break;
    }
    if (log.next < header.uploadEnd) {
      if (saved === 0) return reply(400, "no complete entry package in the body");
      return reply(
        202,
        formatMirrorInfo({ pendingSize: header.uploadEnd, nextEntry: log.next, ticket: new Uint8Array(0) }),
        MIRROR_INFO_CONTENT_TYPE,
      );
    }
    const note = target?.note ?? log.checkpoint()!.note;
    const mine = await log.commit(note, this.opts.signer);
    return reply(200, formatCosignatureResponse(mine));
  }

  /** Checks one package against the checkpoint of size `end` and writes its new entries; a reason when it fails. */
  private async savePackage(
    log: MirroredLog,
    pkg: EntryPackage,
    uploadEnd: number,
    root: Uint8Array,
  ): Promise<string | null> {
    if (pkg.start > log.next)
      return `package [${pkg.start}, ${pkg.end}) leaves a gap after entry ${log.next}`;
    const before =
      pkg.subtreeStart < pkg.start ? await this.heldLeaves(log, pkg.subtreeStart, pkg.start) : [];
    const leaves = pkg.entries.map((e) => hashLeaf(e));
    const node = rootFromLeafHashes([...before, ...leaves]);
    if (!verifySubtreeConsistency(pkg.subtreeStart, pkg.end, uploadEnd, pkg.proof, node, root))
      return `the subtree consistency proof of entries [${pkg.start}, ${pkg.end}) does not verify against the checkpoint of size ${uploadEnd}`;
    const skip = log.next - pkg.start;
    if (skip < pkg.entries.length) await log.append(pkg.entries.slice(skip), leaves.slice(skip));
    return null;
  }

  /** Leaf hashes of held entries [start, end) of one bundle: in memory when it is the open one, else its tile. */
  private async heldLeaves(log: MirroredLog, start: number, end: number): Promise<Uint8Array[]> {
    const openStart = log.next - (log.next % TILE_WIDTH);
    if (start >= openStart) return log.openLeaves(start).slice(0, end - start);
    const tile = await log.readTileAny({
      level: 0,
      index: Math.floor(start / TILE_WIDTH),
      width: TILE_WIDTH,
    });
    if (tile === null) throw new Error(`level-0 tile of entries ${start}… is missing`);
    const out: Uint8Array[] = [];
    for (let i = start % TILE_WIDTH; i < (start % TILE_WIDTH) + (end - start); i++)
      out.push(tile.subarray(i * 32, i * 32 + 32));
    return out;
  }
}
