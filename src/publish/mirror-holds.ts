// What serve's retention must keep for its push mirrors. A mirror takes entries, not tombstones
// (C2SP tlog-mirror uploads carry each entry, which the mirror hashes), so a bundle pruned before
// a mirror got it can never reach that mirror, which then stops for good. Retention therefore
// stops below the smallest tree a configured mirror has cosigned, as a database keeps the
// write-ahead log a replica still needs. A mirror that has cosigned nothing new for the hold
// period (retentionHold in the cosigners file) while retention waits for it is let go, said in
// the log, so one dead mirror cannot fill the disk; so is a mirror already past saving (it lacks
// entries retention pruned before).
//
// What each mirror cosigned, and since when, is kept in DATA/mirrors-held.json (with the hold
// period) so a restart does not forget a dead mirror's lag, and `kubetrail retention run` on the
// stopped log holds back for the same mirrors. The file is derived: without it (or damaged) each
// mirror counts as holding nothing, new since now, until it answers, which only holds retention
// back.
import type { RetentionHold } from "../retention/run.js";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";

export const MIRRORS_HELD_FILE = "mirrors-held.json";

interface Held {
  /** The largest tree size the mirror cosigned. */
  size: number;
  /** When that size was first cosigned (or the mirror first seen), ms since the epoch. */
  sinceMs: number;
}

/** Saves at most this often while mirrors make progress (and once more on close). */
const SAVE_EVERY_MS = 10_000;

export class MirrorHolds {
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Mirrors let go, so the warning is said once per letting go. */
  private readonly letGo = new Set<string>();

  private constructor(
    private readonly file: string,
    private readonly held: Map<string, Held>,
    private readonly holdMs: number,
    private readonly warn: (message: string, fields: Record<string, unknown>) => void,
  ) {}

  /**
   * serve's holds for the mirrors named, from `file`; a mirror not in it is new as of `nowMs`.
   * `warn` hears a damaged file (replaced) and each mirror let go.
   */
  static async load(
    file: string,
    mirrors: readonly string[],
    holdMs: number,
    nowMs: number,
    warn: (message: string, fields: Record<string, unknown>) => void,
  ): Promise<MirrorHolds> {
    let saved: Awaited<ReturnType<typeof readHeld>> = null;
    try {
      saved = await readHeld(file);
    } catch (err) {
      warn("what each mirror holds could not be read; each counts as holding nothing until it answers", {
        file,
        err: (err as Error).message,
      });
    }
    const kept = saved?.mirrors ?? new Map<string, Held>();
    const held = new Map(mirrors.map((m) => [m, kept.get(m) ?? { size: 0, sinceMs: nowMs }]));
    const holds = new MirrorHolds(file, held, holdMs, warn);
    // Written at once only when it differs from the file: a new or removed mirror, another period.
    holds.dirty = saved?.holdMs !== holdMs || kept.size !== held.size || mirrors.some((m) => !kept.has(m));
    await holds.save();
    return holds;
  }

  /**
   * The holds serve left in `file`, for a retention run on the stopped log (nothing is written
   * back); null without the file. A damaged file throws: the run should not guess.
   */
  static async saved(
    file: string,
    warn: (message: string, fields: Record<string, unknown>) => void,
  ): Promise<MirrorHolds | null> {
    const saved = await readHeld(file);
    return saved && new MirrorHolds(file, saved.mirrors, saved.holdMs, warn);
  }

  /** Mirror `name` cosigned a checkpoint of `size` at `nowMs`. */
  cosigned(name: string, size: number, nowMs: number): void {
    const h = this.held.get(name);
    if (h === undefined || size <= h.size) return;
    this.held.set(name, { size, sinceMs: nowMs });
    this.letGo.delete(name);
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.save().catch(() => undefined);
    }, SAVE_EVERY_MS).unref();
  }

  /** The tree size mirror `name` has cosigned, by what this knows (0 before any). */
  sizeOf(name: string): number {
    return this.held.get(name)?.size ?? 0;
  }

  /**
   * Where a retention run that finds `prunedBefore` entries pruned already must stop at `nowMs`
   * for the mirrors still waited for, or null when none holds it back.
   */
  hold(prunedBefore: number, nowMs = Date.now()): RetentionHold | null {
    let hold: RetentionHold | null = null;
    for (const [name, h] of this.held) {
      if (h.size < prunedBefore) continue;
      const silentMs = nowMs - h.sinceMs;
      if (silentMs > this.holdMs) {
        if (!this.letGo.has(name)) {
          this.letGo.add(name);
          this.warn(
            "retention no longer waits for a mirror that has cosigned nothing new for longer than retentionHold: what it lacks may now be pruned, and then it can follow the log only as a new copy",
            { mirror: name, cosignedSize: h.size, silentHours: Math.round(silentMs / 3_600_000) },
          );
        }
        continue;
      }
      if (hold === null || h.size < hold.before)
        hold = {
          before: h.size,
          why: `mirror ${name} has cosigned only ${h.size} entries; retention keeps what it lacks for up to retentionHold after its last cosignature`,
        };
    }
    return hold;
  }

  /** Writes what changed since the last save. */
  save(): Promise<void> {
    if (!this.dirty) return this.saving;
    this.dirty = false;
    const text = JSON.stringify({ holdMs: this.holdMs, mirrors: Object.fromEntries(this.held) });
    this.saving = this.saving.then(() => writeFileAtomic(this.file, `${text}\n`));
    return this.saving;
  }

  /** Stops the timer and saves. */
  close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.save();
  }
}

/** The file's hold period and mirrors, or null without it; throws when it is damaged. */
async function readHeld(file: string): Promise<{ holdMs: number; mirrors: Map<string, Held> } | null> {
  const text = (await readFileIfExists(file))?.toString("utf8");
  if (text === undefined) return null;
  const doc = JSON.parse(text) as { holdMs?: unknown; mirrors?: unknown };
  if (typeof doc.holdMs !== "number" || !(doc.holdMs >= 0))
    throw new Error("holdMs: expected a number of ms");
  if (doc.mirrors === null || typeof doc.mirrors !== "object") throw new Error("mirrors: expected a mapping");
  const mirrors = new Map<string, Held>();
  for (const [name, h] of Object.entries(doc.mirrors)) {
    const { size, sinceMs } = (h ?? {}) as Partial<Held>;
    if (!Number.isSafeInteger(size) || size! < 0 || !Number.isFinite(sinceMs))
      throw new Error(`${name}: expected {size, sinceMs}`);
    mirrors.set(name, { size: size!, sinceMs: sinceMs! });
  }
  return { holdMs: doc.holdMs, mirrors };
}
