// Compresses full entry bundles in the background (compact-bundle.ts says how, crash-safely):
// each bundle as it is sealed, and the plain bundles of a data directory written before (or by a
// process that stopped before compressing them), found by a scan. One bundle at a time, on a
// worker thread at the lowest CPU priority when running from the build (in the caller's thread
// under the TypeScript sources, as in tests). Only the log's writer compacts: whatever else
// rewrites or removes bundles (retention, erasure) runs `exclusive`ly of it, and tombstones
// are written on the same thread (`tombstone`).
import { promises as fsp } from "node:fs";
import path from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import { parseTilePath } from "../../tlog/index.js";
import { WorkerCalls } from "../../worker/calls.js";
import { startWorker, workerModule } from "../../worker/start.js";
import { DEFAULT_ENTRIES_PER_FRAME, DEFAULT_LEVEL } from "../bundle-codec.js";
import {
  compactBundleFile,
  isLeftoverTemp,
  reframeBundleFile,
  type CompactOutcome,
} from "./compact-bundle.js";
import type { CompactReply } from "./compact-worker.js";
import type { FsLayout } from "./layout.js";
import { tombstoneBundleFile, type TombstoneRewrite } from "./tombstone.js";
import { LogError } from "../types.js";

const WORKER = workerModule(import.meta.url, "compact-worker");

export interface CompactorOptions {
  /** zstd level (default DEFAULT_LEVEL). */
  level?: number;
  /** Entries per seekable frame (default DEFAULT_ENTRIES_PER_FRAME). */
  entriesPerFrame?: number;
  /** Work on the compaction thread; by default only when running from the build (see above). */
  onThread?: boolean;
  /** Told when compacting a bundle fails; it stays plain and is tried again by the next scan. */
  onError?: (err: unknown) => void;
}

export interface CompactionStats {
  /** Bundles compressed by this process. */
  bundles: number;
  /** Bundles compressed in one frame rewritten in seekable frames (scan({ reframe })). */
  reframed: number;
  plainBytes: number;
  compressedBytes: number;
  /** Bundles waiting. */
  queued: number;
}

export class BundleCompactor {
  /** Bundles to compact, each with whether to reframe it (see scan). */
  private readonly queue = new Map<number, boolean>();
  private running: Promise<void> | null = null;
  private readonly calls: WorkerCalls<CompactReply & { id: number }> | null;
  /** Set while something runs exclusively: no bundle is started meanwhile. */
  private holds = 0;
  private held: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats: CompactionStats = { bundles: 0, reframed: 0, plainBytes: 0, compressedBytes: 0, queued: 0 };

  constructor(
    private readonly layout: FsLayout,
    private readonly opts: CompactorOptions = {},
  ) {
    this.calls =
      (opts.onThread ?? WORKER.pathname.endsWith(".js"))
        ? new WorkerCalls(startWorker(WORKER, { dir: layout.dir }), "bundle compactor")
        : null;
  }

  /** Queues full bundles for compression (those sealed just now). */
  enqueue(indexes: Iterable<number>, reframe = false): void {
    if (this.closed) return;
    for (const i of indexes) this.queue.set(i, reframe || (this.queue.get(i) ?? false));
    this.stats.queued = this.queue.size;
    this.kick();
  }

  /**
   * Queues every full bundle still stored plain, and removes temporary files a pass that died
   * left behind. With `reframe`, also every compressed bundle, to rewrite those stored in one
   * frame into seekable frames (reading each: `kubetrail compact` asks for it, serve does not).
   * Resolves once queued (not compacted: see idle()).
   */
  async scan(opts: { reframe?: boolean } = {}): Promise<void> {
    const root = path.join(this.layout.dir, "tile", "entries");
    const found: number[] = [];
    const walk = async (dir: string): Promise<void> => {
      let names: import("node:fs").Dirent[];
      try {
        names = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
      }
      for (const d of names) {
        const file = path.join(dir, d.name);
        if (d.isDirectory()) {
          if (!d.name.endsWith(".p")) await walk(file);
        } else if (isLeftoverTemp(d.name)) {
          await fsp.rm(file, { force: true });
        } else if (/^[0-9]{3}$/.test(d.name) || (opts.reframe === true && /^[0-9]{3}\.zst$/.test(d.name))) {
          const rel = path.relative(this.layout.dir, file).replace(/\.zst$/, "");
          const parsed = parseTilePath(rel.split(path.sep).join("/"));
          if (parsed.kind === "entries") found.push(parsed.index);
        }
      }
    };
    await walk(root);
    this.enqueue(
      found.sort((a, b) => a - b),
      opts.reframe,
    );
  }

  /** Resolves once nothing is queued or being compacted. */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  /**
   * Runs `fn` while no bundle is being compacted (one that was is finished first); bundles are
   * compacted again once it settles.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.holds++;
    let release!: () => void;
    const previous = this.held;
    this.held = new Promise((r) => (release = r));
    try {
      await previous;
      await this.current;
      return await fn();
    } finally {
      this.holds--;
      release();
      this.kick();
    }
  }

  private current: Promise<unknown> = Promise.resolve();

  private kick(): void {
    if (this.running !== null || this.holds > 0 || this.queue.size === 0 || this.closed) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (const [index, reframe] of this.queue) {
      if (this.holds > 0 || this.closed) return;
      this.queue.delete(index);
      this.stats.queued = this.queue.size;
      const one = this.compactOne(index, reframe);
      this.current = one.catch(() => undefined);
      try {
        const outcome = await one;
        if (outcome.state === "reframed") this.stats.reframed++;
        if (outcome.state === "compacted") this.stats.bundles++;
        if (outcome.state !== "absent") {
          this.stats.plainBytes += outcome.plainBytes;
          this.stats.compressedBytes += outcome.compressedBytes;
        }
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private async compactOne(index: number, reframe: boolean): Promise<CompactOutcome> {
    const { level, perFrame } = this.format();
    if (this.calls === null) {
      // A turn of the event loop per bundle, so tests running in-thread stay responsive.
      await turn();
      return (reframe ? reframeBundleFile : compactBundleFile)(this.layout, index, level, perFrame);
    }
    const reply = await this.calls.call({ op: "compact", index, level, perFrame, reframe });
    if (reply.error !== undefined) throw new Error(`compressing entry bundle ${index}: ${reply.error}`);
    return reply.outcome!;
  }

  /**
   * Empties lines `lines` of full bundle `index` (tombstone.ts) on the compaction thread, in the
   * form the log compresses bundles in. Only inside exclusive(), like anything else that
   * rewrites bundles.
   */
  readonly tombstone: TombstoneRewrite = async (index, lines) => {
    const { level, perFrame } = this.format();
    if (this.calls === null) {
      await turn();
      return tombstoneBundleFile(this.layout, index, lines, level, perFrame);
    }
    const reply = await this.calls.call({ op: "tombstone", index, lines: [...lines], level, perFrame });
    if (reply.error === undefined) return reply.tombstone!;
    const message = `rewriting entry bundle ${index} with tombstones: ${reply.error}`;
    throw reply.code === "corrupt" ? new LogError("corrupt", message) : new Error(message);
  };

  private format(): { level: number; perFrame: number } {
    return {
      level: this.opts.level ?? DEFAULT_LEVEL,
      perFrame: this.opts.entriesPerFrame ?? DEFAULT_ENTRIES_PER_FRAME,
    };
  }

  /** Stops compacting (what is queued stays plain until the next scan) and ends the thread. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    await this.running;
    await this.calls?.terminate();
  }
}
