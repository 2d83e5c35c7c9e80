// Full verification of a log: re-hash every entry, rebuild the tree, and check it against
// every hash tile and the signed checkpoint — and, given an older trusted checkpoint, that
// the log is an append-only extension of it. Memory stays flat: only the right edge of the
// tree is kept while the entries stream past. Everything is read through a LogReader pinned
// at the checkpoint, from a data directory or a tlog-tiles server (a LogSource). Entries
// pruned or erased on purpose are reported and their leaf hashes taken from the level-0
// tiles, so the tree and the checkpoint are still checked.
import os from "node:os";
import {
  hashesEqual,
  NoteVerifier,
  openCheckpoint,
  TlogError,
  tilePath,
  TILE_WIDTH,
  parseCheckpoint,
  splitNote,
  type Checkpoint,
  type OpenedCheckpoint,
  type Verifier,
} from "../tlog/index.js";
import { KEY_EVENT_KIND } from "../keys/key-event.js";
import { KeyHistory, KeyProblem } from "../keys/key-history.js";
import { checkQuorum, type WitnessPolicy } from "./witness-policy.js";
import { TileBuilder, type TileData } from "../store/tile-builder.js";
import { CONTENT_ENCODING } from "../store/bundle-codec.js";
import { splitBundle } from "../store/bundle-format.js";
import type { LogSource } from "../store/driver.js";
import { LeafHasherPool } from "../store/leaf-hasher.js";
import { readerAt } from "../store/log-reader.js";
import type { Gone, LogReader } from "../store/types.js";
import {
  ERASURE_RECORD_KIND,
  findErasureRecords,
  type ErasureRecordEntry,
} from "../records/erasure-record.js";
import { kindMarker } from "../records/find.js";
import {
  decodeLines,
  findRetentionRecords,
  RETENTION_RECORD_KIND,
  type RetentionRecordEntry,
} from "../records/retention-record.js";

export type ProblemCode =
  | "no-checkpoint"
  | "unknown-key"
  | "bad-signature"
  | "bad-checkpoint"
  | "shorter-than-trusted"
  | "not-an-extension"
  | "missing-bundle"
  | "bundle-count"
  | "entry-mismatch"
  | "tile-mismatch"
  | "missing-tile"
  | "root-mismatch"
  | "witness-quorum"
  | "retired-key"
  | "not-yet-valid-key"
  | "key-event"
  | "unreadable"
  | "deadline"
  | "pruned-without-record"
  | "erased-without-record";

export interface Problem {
  code: ProblemCode;
  message: string;
  /** The first log index concerned, when one can be named. */
  index?: number;
  /** That entry's auditID, when it is an audit event. */
  auditID?: string;
}

export interface VerifyReport {
  ok: boolean;
  where: string;
  origin?: string;
  size?: number;
  rootHash?: string;
  entries: number;
  bytes: number;
  tilesChecked: number;
  /** Entries whose bytes were removed on purpose, checked by their leaf hashes alone. */
  pruned: number;
  /** The pruned ranges, each with the retention record in the log that removed it. */
  prunedRanges: PrunedRange[];
  erased: number;
  /** The erased entries, counted by the erasure record in the log that lists them. */
  erasedBy: ErasedBy[];
  /** Entries a retention run removed one by one from bundles it kept. */
  thinned: number;
  /** The thinned entries, counted by the retention record in the log that lists them. */
  thinnedBy: ThinnedBy[];
  trustedSize?: number;
  /** With a witness policy: the witnesses whose cosignature the checkpoint carries. */
  witnesses?: string[];
  problems: Problem[];
}

/** Entries [from, before) whose bundles are gone, and the retention record covering them. */
export interface PrunedRange {
  from: number;
  before: number;
  /** Log index of the record, or undefined when no record covers the range (an error). */
  record?: number;
  policy?: string;
  by?: string;
  time?: string;
}

/** Entries thinned under one retention record. */
export interface ThinnedBy {
  record: number;
  count: number;
  policy: string;
  by: string;
  time: string;
}

/** Entries erased under one erasure record. */
export interface ErasedBy {
  record: number;
  count: number;
  by: string;
  reason: string;
  time: string;
}

export interface VerifyOptions {
  /**
   * The log's verifier key (`name+hash+base64`) the auditor pinned, or several. Keys the log
   * added or retired since (KeyEvents in the log, endorsed by a trusted key) are followed: each
   * checkpoint must be signed by a key valid at its size (src/keys/key-history.ts).
   */
  verifierKey: string | readonly string[];
  /** An older checkpoint note the log must extend. */
  trustedCheckpoint?: string;
  /** Witnesses whose cosignatures the checkpoint must carry (see witness-policy.ts). */
  witnesses?: WitnessPolicy | null;
  /** Hash on this many worker threads (default: one per core but one). */
  workers?: number;
  onProgress?: (entriesDone: number, total: number) => void;
  /** Stops the verification (a "deadline" problem, saying how far it got) when aborted. */
  signal?: AbortSignal;
}

const MAX_IN_FLIGHT = 8;
/** Bundles read ahead of the walk hold at most about this many bytes (a hostile source's too). */
const MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;

/** Checks everything `source` serves; see the file comment for what ok:true proves. */
export async function verifyLog(source: LogSource, opts: VerifyOptions): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false,
    where: source.where,
    entries: 0,
    bytes: 0,
    tilesChecked: 0,
    pruned: 0,
    prunedRanges: [],
    erased: 0,
    erasedBy: [],
    thinned: 0,
    thinnedBy: [],
    problems: [],
  };
  const pinned = (typeof opts.verifierKey === "string" ? [opts.verifierKey] : opts.verifierKey).map((k) =>
    NoteVerifier.fromKey(k),
  );
  let noteBytes: Uint8Array | null;
  try {
    noteBytes = await source.readCheckpoint();
  } catch (err) {
    return fail(report, unreadable(err, opts.signal));
  }
  if (noteBytes === null)
    return fail(report, { code: "no-checkpoint", message: `${source.where}: no checkpoint` });
  const note = Buffer.from(noteBytes).toString("utf8");
  const witnesses = opts.witnesses?.witnesses ?? [];
  // Signed by a pinned key, it is checked now; signed by a key the log added since, once the
  // walk has read the log's KeyEvents. A bad signature by a pinned key fails at once.
  const cp = preliminary(noteBytes, pinned, witnesses, "checkpoint", report);
  if (!cp) return report;
  Object.assign(report, {
    origin: cp.origin,
    size: cp.size,
    rootHash: Buffer.from(cp.rootHash).toString("base64"),
  });

  let trusted: Checkpoint | null = null;
  if (opts.trustedCheckpoint !== undefined) {
    trusted = preliminary(opts.trustedCheckpoint, pinned, [], "trusted checkpoint", report);
    if (!trusted) return report;
    report.trustedSize = trusted.size;
    if (trusted.size > cp.size) {
      return fail(report, {
        code: "shorter-than-trusted",
        message: `log is shorter than the trusted checkpoint: ${cp.size} entries, trusted ${trusted.size}`,
      });
    }
  }

  const log = readerAt(source, { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note });
  const walk = new TreeWalk(log, report, trusted);
  /** Set when the walk cannot go on (a read refused or failed, the deadline): nothing to finish. */
  let stopped = false;
  // One core stays with this thread, which reads the bundles and walks the tree: on two cores,
  // two hashing workers beside it were slower than one (bench/README.md, verify).
  const workers = opts.workers ?? Math.max(1, os.availableParallelism() - 1);
  const pool = new LeafHasherPool(cp.size < 4 * TILE_WIDTH ? 0 : workers);
  try {
    const bundles = Math.ceil(cp.size / TILE_WIDTH);
    // Reads and hashing run ahead of the walk (MAX_IN_FLIGHT bundles): the walk then never
    // waits for a read it could have started earlier, which on two cores left this thread
    // idle half the time between a bundle, its tile and the next bundle.
    const inFlight: { index: number; width: number; ready: Promise<BundleRead> }[] = [];
    let readBytes = 0;
    const submit = (index: number) => {
      const width = Math.min(TILE_WIDTH, cp.size - index * TILE_WIDTH);
      const ready = Promise.all([
        readAndHash(log, pool, index, width),
        log.readTile({ level: 0, index, width }),
      ]).then(([bundle, published]): BundleRead => {
        readBytes += bundle.data?.length ?? 0;
        return { ...bundle, published };
      });
      // Awaited in order below; one that fails after the walk stopped must not go unhandled.
      ready.catch(() => undefined);
      inFlight.push({ index, width, ready });
    };
    let nextSubmit = 0;
    while (nextSubmit < Math.min(bundles, MAX_IN_FLIGHT)) submit(nextSubmit++);
    while (inFlight.length > 0) {
      if (opts.signal?.aborted) {
        stopped = true;
        report.problems.push({
          code: "deadline",
          message: `stopped after ${report.entries} of ${cp.size} entries: ${String(opts.signal.reason ?? "the deadline passed")}`,
        });
        break;
      }
      const job = inFlight.shift()!;
      let read: BundleRead;
      try {
        read = await job.ready;
      } catch (err) {
        report.problems.push({ ...unreadable(err, opts.signal), index: job.index * TILE_WIDTH });
        stopped = true;
        break;
      }
      readBytes -= read.data?.length ?? 0;
      // Read ahead while the bundles waiting here are small; big ones are taken one at a time.
      if (nextSubmit < bundles && (readBytes < MAX_IN_FLIGHT_BYTES || inFlight.length === 0))
        submit(nextSubmit++);
      if (!(await walk.bundle(job.index, job.width, read))) break;
      opts.onProgress?.(report.entries, cp.size);
      while (inFlight.length === 0 && nextSubmit < bundles) submit(nextSubmit++);
    }
  } finally {
    await pool.close();
  }
  if (!stopped) {
    await walk.finish(cp);
    if (walk.complete) checkSignatures(walk.history, pinned, note, opts, report);
  }
  report.ok = report.problems.length === 0;
  return report;
}

/**
 * Bundle `index` (its first `width` entries) and their leaf hashes. A full bundle stored
 * compressed is handed to the hashing worker as stored, to decompress and hash there: this
 * thread, which walks the tree, only reads the file. Anything the worker cannot take (damage)
 * is read again the plain way, which finds a plain copy beside it (a conversion that did not
 * finish) or raises the reader's error naming the file. A bundle just read is handed to the
 * worker, not copied (hashGiven).
 */
async function readAndHash(
  log: LogReader,
  pool: LeafHasherPool,
  index: number,
  width: number,
): Promise<Omit<BundleRead, "published">> {
  if (width === TILE_WIDTH) {
    try {
      const stored = await log.readEncodedBundle(index);
      if (stored !== null && stored.encoding === CONTENT_ENCODING) {
        const { hashes, bytes, found, empty } = await pool.hashCompressed(
          stored.data,
          `entry bundle ${index}`,
          MARKS,
        );
        return { data: bytes, hashes, erased: null, found, empty };
      }
    } catch {
      // Read again below.
    }
  }
  const got = await log.readEntryBundle(index, width);
  if (got === null) return { data: null, hashes: null };
  if (got.gone !== undefined) return { data: null, hashes: null, gone: got.gone };
  const erased = got.erased ?? null;
  try {
    const { hashes, bytes, found, empty } = await pool.hashGiven(got.data, MARKS);
    return { data: bytes, hashes, erased, found, empty };
  } catch {
    return { data: got.data, hashes: null, erased };
  }
}

/**
 * The checkpoint's fields: checked now when a pinned key signed it (a bad signature by one fails
 * here), else read unchecked until the key history is known (checkSignatures). Null on failure.
 */
function preliminary(
  note: string | Uint8Array,
  pinned: readonly NoteVerifier[],
  witnesses: readonly Verifier[],
  what: string,
  report: VerifyReport,
): Checkpoint | null {
  try {
    return openCheckpoint(note, [...pinned, ...witnesses]);
  } catch (err) {
    const code = err instanceof TlogError ? err.code : "";
    if (code !== "unknown-key" && code !== "origin-mismatch") {
      fail(report, {
        code: code === "bad-signature" ? "bad-signature" : "bad-checkpoint",
        message: `${what}: ${(err as Error).message}`,
      });
      return null;
    }
  }
  try {
    return parseCheckpoint(splitNote(note).text);
  } catch (err) {
    fail(report, { code: "bad-checkpoint", message: `${what}: ${(err as Error).message}` });
    return null;
  }
}

/**
 * After the walk: the checkpoint (and the trusted one) signed by keys valid at their sizes,
 * following the log's KeyEvents from the pinned keys; then the witness quorum.
 */
function checkSignatures(
  history: KeyHistory,
  pinned: readonly NoteVerifier[],
  note: string,
  opts: VerifyOptions,
  report: VerifyReport,
): void {
  for (const p of history.problems)
    report.problems.push({ code: "key-event", index: p.index, message: p.message });
  const trust = history.trust(pinned);
  const checks: [string, string, readonly Verifier[]][] = [
    ["checkpoint", note, opts.witnesses?.witnesses ?? []],
  ];
  if (opts.trustedCheckpoint !== undefined) checks.push(["trusted checkpoint", opts.trustedCheckpoint, []]);
  for (const [what, text, cosigners] of checks) {
    let cp: OpenedCheckpoint;
    try {
      cp = trust.open(text, cosigners, what);
    } catch (err) {
      if (!(err instanceof KeyProblem)) throw err;
      report.problems.push({ code: err.code, message: err.message });
      continue;
    }
    if (what === "checkpoint" && opts.witnesses) {
      const quorum = checkQuorum(cp, opts.witnesses);
      report.witnesses = quorum.present;
      if (!quorum.ok) report.problems.push({ code: "witness-quorum", message: quorum.message! });
    }
  }
}

/** A read the source refused or that failed (a file of the wrong size or kind, a timeout): the message names it. */
function unreadable(err: unknown, signal?: AbortSignal): Problem {
  if (signal?.aborted)
    return { code: "deadline", message: `stopped: ${String(signal.reason ?? "the deadline passed")}` };
  return { code: "unreadable", message: err instanceof Error ? err.message : String(err) };
}

/**
 * What the walk looks for in each bundle, searched where it is hashed (which also finds its
 * empty lines): a KeyEvent, a retention record, an erasure record.
 */
const MARKS = [
  kindMarker(KEY_EVENT_KIND),
  kindMarker(RETENTION_RECORD_KIND),
  kindMarker(ERASURE_RECORD_KIND),
];

/** One bundle as read ahead of the walk: its bytes, their leaf hashes and its level-0 tile (null: missing). */
interface BundleRead {
  data: Uint8Array | null;
  hashes: Uint8Array | null;
  published: Uint8Array | null;
  /** Set when retention removed the bundle on purpose. */
  gone?: Gone;
  /** Erased lines of the bundle (empty in `data`), and why. */
  erased?: ReadonlyMap<number, string> | null;
  /** Which of MARKS the bundle holds, and its empty lines (erased entries), as hashing found them. */
  found?: boolean[];
  empty?: number[];
}

/** Feeds leaf hashes into the tree in order and compares what it builds with the source. */
class TreeWalk {
  private readonly builder = new TileBuilder();
  /** The log's KeyEvents, as the walk reads them. */
  readonly history = new KeyHistory();
  private firstEntryMismatch: Problem | null = null;
  private firstTileMismatch: Problem | null = null;
  /** Retention records read (from entries checked against the tree). */
  private readonly records: { index: number; record: RetentionRecordEntry }[] = [];
  private readonly erasures: { index: number; record: ErasureRecordEntry }[] = [];
  /** The empty lines seen (erased or thinned entries): a bitmap of its lines per bundle. */
  private readonly emptyLines = new Map<number, Uint8Array>();

  constructor(
    private readonly log: LogReader,
    private readonly report: VerifyReport,
    private readonly trusted: Checkpoint | null,
  ) {}

  /** Returns false when the walk cannot go on (a bundle is missing). */
  async bundle(index: number, width: number, read: BundleRead): Promise<boolean> {
    const { data, published, erased } = read;
    const first = index * TILE_WIDTH;
    // Pruned: the published leaf hashes stand in for the entries (the tree is still checked).
    if (read.gone !== undefined && published !== null) {
      this.report.pruned += width;
      const last = this.report.prunedRanges[this.report.prunedRanges.length - 1];
      if (last !== undefined && last.before === first) last.before = first + width;
      else this.report.prunedRanges.push({ from: first, before: first + width });
      await this.pushLeaves(index, width, published, published);
      return true;
    }
    let hashes = read.hashes;
    if (data === null || hashes === null) {
      this.report.problems.push({
        code: "missing-bundle",
        index: first,
        message: `entry bundle ${index} (entries ${first}–${first + width - 1}) is missing or damaged`,
      });
      return false;
    }
    const count = hashes.length / 32;
    if (count !== width) {
      this.report.problems.push({
        code: "bundle-count",
        index: first,
        message: `entry bundle ${index} holds ${count} entries where the checkpoint needs ${width}: entries were deleted or inserted`,
      });
    }
    const [keyEvent, retention, erasure] = read.found ?? [];
    // An empty line is an erased entry (no stored entry is empty), whether or not the source says so.
    const erasedLines = erased && erased.size > 0 ? [...erased.keys()] : (read.empty ?? []);
    if (erasedLines.length > 0 && published !== null) {
      // An erased line has no bytes to hash: its published leaf hash stands in for it.
      hashes = hashes.slice();
      for (const i of erasedLines) if (i < count) hashes.set(published.subarray(i * 32, i * 32 + 32), i * 32);
      this.report.erased += erasedLines.length;
      const bits = new Uint8Array(TILE_WIDTH / 8);
      for (const i of erasedLines) bits[i >> 3]! |= 1 << (i & 7);
      this.emptyLines.set(index, bits);
    }
    await this.pushLeaves(index, width, hashes, published, data);
    this.report.bytes += data.length;
    if (keyEvent) splitBundle(data).forEach((line, i) => this.history.observe(first + i, line));
    if (retention) this.records.push(...findRetentionRecords(data, first));
    if (erasure) this.erasures.push(...findErasureRecords(data, first));
    return true;
  }

  /** True when every entry of the checkpoint's tree was read. */
  get complete(): boolean {
    return this.builder.size === Number(this.report.size);
  }

  /**
   * Pushes a bundle's leaf hashes (`count` of them in `hashes`, missing ones as zeros) into the
   * tree. The level-0 tile holds the leaf hashes the log published; the first difference names
   * the entry (the final root decides whether the entry or the tile was changed).
   */
  private async pushLeaves(
    index: number,
    width: number,
    hashes: Uint8Array,
    published: Uint8Array | null,
    data?: Uint8Array,
  ): Promise<void> {
    const first = index * TILE_WIDTH;
    const count = hashes.length / 32;
    for (let i = 0; i < width; i++) {
      const leaf = i < count ? hashes.subarray(i * 32, i * 32 + 32) : new Uint8Array(32);
      if (
        !this.firstEntryMismatch &&
        published &&
        !hashesEqual(leaf, published.subarray(i * 32, i * 32 + 32))
      ) {
        this.firstEntryMismatch = {
          code: "entry-mismatch",
          index: first + i,
          auditID: data === undefined ? undefined : auditIdOf(data, i),
          message: `entry ${first + i} does not match its published leaf hash`,
        };
      }
      if (this.trusted && this.builder.size === this.trusted.size) this.checkTrusted();
      for (const t of this.builder.push(leaf)) {
        // This bundle's own full tile was read with it.
        const own = t.tile.level === 0 && t.tile.index === index;
        await this.checkTile(t, own ? published : undefined);
      }
      this.report.entries++;
    }
  }

  async finish(cp: Checkpoint): Promise<void> {
    if (this.builder.size !== cp.size) return; // a missing bundle was already reported
    this.attributePruned();
    this.attributeEmpty();
    if (this.trusted && this.builder.size === this.trusted.size) this.checkTrusted();
    for (const t of this.builder.partialTiles()) await this.checkTile(t);
    const rootOk = hashesEqual(this.builder.root(), cp.rootHash);
    if (!rootOk) {
      const e = this.firstEntryMismatch;
      this.report.problems.push(
        e
          ? {
              ...e,
              code: "entry-mismatch",
              message: `${e.message}; the entries do not match the signed checkpoint`,
            }
          : {
              code: "root-mismatch",
              message: `the entries do not give the signed root of size ${cp.size} (tiles were rewritten to match: compare with an older trusted checkpoint, --from)`,
            },
      );
    } else if (this.firstTileMismatch) {
      this.report.problems.push(this.firstTileMismatch);
    }
  }

  /**
   * Names the retention record behind each pruned range: the record whose own range holds it,
   * else the newest record whose `prunedBefore` covers it (older records may be pruned too).
   * A range no record covers was removed without one: an error, as a missing bundle is.
   */
  private attributePruned(): void {
    const ranges: PrunedRange[] = [];
    for (const range of this.report.prunedRanges) {
      let at = range.from;
      while (at < range.before) {
        const own = this.records.find((r) => r.record.range?.from <= at && at < r.record.range?.before);
        const covering = this.records
          .filter((r) => r.record.prunedBefore > at)
          .sort((a, b) => b.index - a.index)[0];
        const by = own ?? covering;
        const end =
          by === undefined
            ? range.before
            : Math.min(range.before, own ? own.record.range.before : by.record.prunedBefore);
        if (by === undefined) {
          this.report.problems.push({
            code: "pruned-without-record",
            index: at,
            message: `entries ${at}–${end - 1} were removed, but no retention record in the log covers them`,
          });
          ranges.push({ from: at, before: end });
        } else {
          ranges.push({
            from: at,
            before: end,
            record: by.index,
            policy: by.record.policy?.name,
            by: by.record.by,
            time: by.record.time,
          });
        }
        at = end;
      }
    }
    this.report.prunedRanges = ranges;
  }

  /**
   * Counts each empty line under a record listing it: an erasure record (by log index), else a
   * retention record that thinned its bundle (by line); of several of a kind, the first in the
   * log. An empty line no record lists is an error.
   */
  private attributeEmpty(): void {
    /** Clears the bit of `line` of `bundle` if it is set, telling whether it was. */
    const take = (bundle: number, line: number): boolean => {
      const bits = this.emptyLines.get(bundle);
      if (bits === undefined || !(bits[line >> 3]! & (1 << (line & 7)))) return false;
      bits[line >> 3]! &= ~(1 << (line & 7));
      return true;
    };
    for (const { index, record } of this.erasures) {
      let count = 0;
      for (const i of record.entries) if (take(Math.floor(i / TILE_WIDTH), i % TILE_WIDTH)) count++;
      if (count > 0)
        this.report.erasedBy.push({
          record: index,
          count,
          by: record.by,
          reason: record.reason,
          time: record.time,
        });
    }
    for (const { index, record } of this.records) {
      let count = 0;
      for (const t of record.thinned ?? [])
        for (const line of decodeLines(t.lines) ?? []) if (take(t.bundle, line)) count++;
      if (count === 0) continue;
      this.report.thinnedBy.push({
        record: index,
        count,
        policy: record.policy.name,
        by: record.by,
        time: record.time,
      });
      this.report.thinned += count;
      this.report.erased -= count;
    }
    const unlisted: number[] = [];
    for (const [bundle, bits] of this.emptyLines)
      for (let line = 0; line < TILE_WIDTH; line++)
        if (bits[line >> 3]! & (1 << (line & 7))) unlisted.push(bundle * TILE_WIDTH + line);
    if (unlisted.length > 0)
      this.report.problems.push({
        code: "erased-without-record",
        index: unlisted[0],
        message: `${unlisted.length} entries are erased but no erasure or retention record in the log lists them (first: ${unlisted.slice(0, 5).join(", ")})`,
      });
  }

  private checkTrusted(): void {
    const trusted = this.trusted!;
    if (hashesEqual(this.builder.root(), trusted.rootHash)) return;
    this.report.problems.push({
      code: "not-an-extension",
      message: `not an extension of the trusted checkpoint: the first ${trusted.size} entries no longer give its root`,
    });
  }

  /** Compares a tile built from the entries with the published one (read here unless given). */
  private async checkTile(t: TileData, read?: Uint8Array | null): Promise<void> {
    let published: Uint8Array | null;
    try {
      published = read !== undefined ? read : await this.log.readTile(t.tile);
    } catch (err) {
      this.firstTileMismatch ??= unreadable(err);
      return;
    }
    this.report.tilesChecked++;
    if (published !== null && Buffer.compare(Buffer.from(published), Buffer.from(t.data)) === 0) return;
    this.firstTileMismatch ??= {
      code: published === null ? "missing-tile" : "tile-mismatch",
      message: `${tilePath(t.tile)} ${published === null ? "is missing" : "does not match the entries"}`,
    };
  }
}

function fail(report: VerifyReport, problem: Problem): VerifyReport {
  report.problems.push(problem);
  report.ok = false;
  return report;
}

/** The auditID of line i of a bundle, if that line is an audit event. */
function auditIdOf(bundle: Uint8Array, i: number): string | undefined {
  try {
    const line = splitBundle(bundle)[i];
    if (!line) return undefined;
    const v = JSON.parse(Buffer.from(line).toString("utf8")) as { auditID?: unknown };
    return typeof v.auditID === "string" ? v.auditID : undefined;
  } catch {
    return undefined;
  }
}
