// Collecting witnesses' cosignatures for the log's checkpoints, and deciding which checkpoint
// is published (served at /log/checkpoint).
//
// The log core calls cosign() between signing a checkpoint and writing it: every witness is
// asked at once, and the note is written with the cosignatures that arrived within maxWait
// (never longer: a slow or dead witness delays a checkpoint by that much at worst, and
// acknowledgements of events never wait for checkpoints at all; one that kept a checkpoint
// waiting that long is not waited for again until that request ends). Cosignatures that
// arrive later are still kept for that checkpoint.
//
// The published checkpoint is the newest one the log has written that the policy accepts, with
// every cosignature collected for it: with failMode "open" any checkpoint (short of the quorum it
// is still published, and reported); with "closed" only one carrying the quorum of non-optional
// witnesses — until one does, the previous one stays published. It is kept in a file so a
// restart publishes the same. While the newest checkpoint lacks a witness's cosignature, that
// witness is asked again every few seconds (respecting its back-off), so an idle log still
// reaches its quorum once the witness is back.
import {
  type Checkpoint,
  type NoteSignature,
  type Verifier,
  attachSignatures,
  formatCosignatureResponse,
  hashesEqual,
  openCheckpoint,
  splitNote,
} from "../tlog/index.js";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import type { SignedCheckpoint } from "../store/types.js";
import { checkQuorum, type WitnessPolicy } from "../verify/witness-policy.js";
import type { CosignersConfig } from "./cosigners-config.js";
import type { HttpClient } from "./http-client.js";
import type { CosignerClient, CosignOutcome, ProveConsistency } from "./cosigner-client.js";
import { MirrorClient, type MirrorSource } from "./mirror-client.js";
import { WitnessClient } from "./witness-client.js";

export interface CosignEvent {
  level: "info" | "warn" | "error";
  message: string;
  fields: Record<string, unknown>;
}

export interface CosigningOptions {
  config: CosignersConfig;
  prove: ProveConsistency;
  /** The log's entries and subtree proofs, for mirrors. */
  mirrorSource: MirrorSource;
  http: HttpClient;
  /** Where the published checkpoint is kept (DATA/published-checkpoint). */
  publishedFile: string;
  onEvent?: (e: CosignEvent) => void;
  /** Told after every witness and mirror answer, with the size of the checkpoint asked about. */
  onOutcome?: (cosigner: string, outcome: CosignOutcome, size: number) => void;
  /** How often cosigners missing from the newest checkpoint are asked again. */
  retryIntervalMs?: number;
}

interface Candidate {
  cp: Checkpoint;
  /** The note as the log signed it (no cosignatures). */
  signed: string;
  /** Cosignatures by witness name. */
  cosignatures: Map<string, NoteSignature[]>;
  /** The log has written this checkpoint: it may be published. */
  written: boolean;
}

/** The published checkpoint's file in serve's data directory. */
export const PUBLISHED_CHECKPOINT_FILE = "published-checkpoint";

/** Candidates kept for late cosignatures: a few minutes of checkpoints at one a second is plenty. */
const MAX_CANDIDATES = 64;

export class Cosigning {
  readonly witnesses: WitnessClient[];
  readonly mirrors: MirrorClient[];
  /** The non-optional witnesses and the quorum among them. */
  readonly policy: WitnessPolicy;
  private candidates: Candidate[] = [];
  private publishedNote: string | null = null;
  private publishedAt = -1;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly lastOutcome = new Map<string, string>();
  /** The log's verifier keys (given at start). */
  private logKeys: readonly Verifier[] = [];

  constructor(private readonly opts: CosigningOptions) {
    const { config } = opts;
    this.witnesses = config.witnesses.map((w) => new WitnessClient(w, opts.http, config.timing, opts.prove));
    this.mirrors = config.mirrors.map(
      (m) => new MirrorClient(m, opts.http, config.timing, opts.prove, opts.mirrorSource),
    );
    this.policy = {
      witnesses: config.witnesses.filter((w) => !w.optional).map((w) => w.verifier),
      minWitnesses: config.quorum,
    };
  }

  /**
   * Once the log is open (cosign() may run before, while it recovers): the log's keys, the
   * published checkpoint kept on disk, and the log's current checkpoint.
   */
  async start(logKeys: readonly Verifier[], current: SignedCheckpoint): Promise<void> {
    this.logKeys = logKeys;
    const kept = (await readFileIfExists(this.opts.publishedFile))?.toString("utf8");
    if (kept !== undefined && this.publishedNote === null) {
      try {
        this.publishedAt = openCheckpoint(kept, logKeys).size;
        this.publishedNote = kept;
      } catch (err) {
        this.event("warn", "the kept published checkpoint is not the log's; it is replaced", {
          err: String(err),
        });
      }
    }
    this.written(current);
    this.timer = setInterval(() => this.askMissing(), this.opts.retryIntervalMs ?? 5_000);
    this.timer.unref();
  }

  /** The note /log/checkpoint serves, or null while no checkpoint is acceptable (fail-closed). */
  published(): string | null {
    return this.publishedNote;
  }

  /**
   * The log core's cosigning step: asks every cosigner, waits at most maxWait, and returns the
   * note with the cosignatures received. Never rejects. With mirrors and witnessAfterMirror,
   * witnesses are asked only once a mirror holds the checkpoint: then nothing a witness vouched
   * for can be lost with the primary (docs/operations.md).
   */
  async cosign(signed: string, cp: Checkpoint): Promise<string> {
    const candidate: Candidate = { cp, signed, cosignatures: new Map(), written: false };
    this.candidates.push(candidate);
    if (this.candidates.length > MAX_CANDIDATES) this.candidates.shift();
    const deadline = Date.now() + this.opts.config.maxWaitMs;
    const unanswered = new Set<CosignerClient>();
    const asking = (async () => {
      const mirrored = this.askAll(this.mirrors, candidate, unanswered);
      if (this.ordered()) {
        await this.within(deadline, this.firstMirror(candidate, mirrored));
        if (this.mirrorHolds(candidate))
          await this.within(deadline, this.askAll(this.witnesses, candidate, unanswered));
      } else {
        await this.within(
          deadline,
          Promise.all([mirrored, this.askAll(this.witnesses, candidate, unanswered)]),
        );
      }
    })();
    // While the log opens (before start), nothing waits for cosigners: a hung witness must not
    // keep serve from taking events. Cosignatures that come later join the checkpoint when it
    // is published.
    if (this.timer === null) {
      asking.catch((err: unknown) => this.event("error", "asking cosigners failed", { err: String(err) }));
      return this.noteOf(candidate);
    }
    await asking;
    // Those still at it when the deadline came are not waited for again in that exchange.
    for (const x of unanswered) x.giveUp();
    return this.noteOf(candidate);
  }

  /** Resolves once a mirror has cosigned a checkpoint of at least `size` (strict mode). */
  untilMirrored(size: number): Promise<void> {
    return Promise.race(this.mirrors.map((m) => m.untilCosigned(size)));
  }

  private ordered(): boolean {
    return this.mirrors.length > 0 && this.opts.config.witnessAfterMirror;
  }

  private mirrorHolds(c: Candidate): boolean {
    return this.mirrors.some((m) => c.cosignatures.has(m.endpoint.name));
  }

  /**
   * Asks each of `clients` about `c`, keeping in `unanswered` those that have not answered
   * yet; settles when those worth waiting for have. One still in an exchange that an earlier
   * checkpoint waited for until its deadline is asked (its cosignature joins `c` if it comes)
   * but not waited for: a hung cosigner then costs one checkpoint maxWait, not every checkpoint
   * until its request times out, and what follows the log's checkpoints (the index, the
   * detector's alerts) stays current.
   */
  private async askAll(
    clients: readonly CosignerClient[],
    c: Candidate,
    unanswered: Set<CosignerClient>,
  ): Promise<void> {
    const waited = clients.map((x) => {
      const stuck = x.givenUpOn;
      unanswered.add(x);
      const asked = this.ask(x, c).finally(() => unanswered.delete(x));
      return stuck ? undefined : asked;
    });
    await Promise.all(waited);
  }

  /** Settles when a mirror has cosigned `c` or every mirror has answered. */
  private firstMirror(c: Candidate, all: Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.mirrorHolds(c)) resolve();
      };
      this.mirrors.forEach((m) => void m.untilCosigned(c.cp.size).then(check));
      void all.then(() => resolve());
    });
  }

  private async within(deadline: number, work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work,
      new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
  }

  /** Tree size of the published checkpoint (-1: none). */
  publishedSize(): number {
    return this.publishedAt;
  }

  /** How many non-optional witnesses cosigned the published checkpoint. */
  publishedWitnesses(): number {
    const c = this.candidates.findLast((x) => x.cp.size === this.publishedAt);
    return c ? this.policy.witnesses.filter((w) => c.cosignatures.has(w.name)).length : 0;
  }

  /** The log wrote `cp` (or has it, on start): it may now be published. */
  written(cp: SignedCheckpoint): void {
    if (this.publishedAt > cp.size) {
      // The kept one is from a longer log than this one: it was restored from an older copy.
      this.event("error", "the published checkpoint is larger than the log's own: publishing the log's", {
        published: this.publishedAt,
        log: cp.size,
      });
      this.publishedAt = -1;
      this.publishedNote = null;
    }
    const candidate = this.find(cp);
    if (candidate) candidate.written = true;
    else this.adopt(cp.note);
    this.refresh();
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    return this.writing;
  }

  /** A checkpoint the log wrote without asking (found on start): its cosignatures are taken as they are. */
  private adopt(note: string): void {
    let opened;
    try {
      opened = openCheckpoint(note, [...this.logKeys, ...this.opts.config.witnesses.map((w) => w.verifier)]);
    } catch (err) {
      this.event("warn", "the log's checkpoint does not open with the configured keys", { err: String(err) });
      return;
    }
    const { text, signatures } = splitNote(note);
    const own = opened.signatures.filter((s) => this.logKeys.includes(s.verifier));
    const signed = `${text}\n${formatCosignatureResponse(own)}`;
    const cosignatures = new Map<string, NoteSignature[]>();
    for (const c of opened.cosignatures) {
      const sig = signatures.find((s) => s.name === c.name && s.keyHash === c.keyHash);
      if (sig) cosignatures.set(c.name, [sig]);
    }
    this.candidates.push({ cp: opened, signed, cosignatures, written: true });
    this.refresh();
  }

  private find(cp: Pick<Checkpoint, "size" | "rootHash">): Candidate | undefined {
    for (let i = this.candidates.length - 1; i >= 0; i--) {
      const c = this.candidates[i]!;
      if (c.cp.size === cp.size && hashesEqual(c.cp.rootHash, cp.rootHash)) return c;
    }
    return undefined;
  }

  private async ask(client: CosignerClient, candidate: Candidate): Promise<void> {
    const outcome = await client.cosign(candidate.signed, candidate.cp);
    this.opts.onOutcome?.(client.endpoint.name, outcome, candidate.cp.size);
    this.report(client, candidate, outcome);
    if (outcome.kind !== "cosigned") return;
    candidate.cosignatures.set(client.endpoint.name, outcome.signatures);
    if (candidate.written) this.refresh();
  }

  /** Asks again the cosigners whose cosignature the newest written checkpoint lacks. */
  private askMissing(): void {
    const newest = this.candidates.findLast((c) => c.written);
    if (!newest) return;
    for (const m of this.mirrors) if (!newest.cosignatures.has(m.endpoint.name)) void this.ask(m, newest);
    // Witnesses after a mirror: the newest checkpoint a mirror holds.
    const target = this.ordered()
      ? this.candidates.findLast((c) => c.written && this.mirrorHolds(c))
      : newest;
    if (!target) return;
    for (const w of this.witnesses) if (!target.cosignatures.has(w.endpoint.name)) void this.ask(w, target);
  }

  private noteOf(c: Candidate): string {
    const all = [...c.cosignatures.values()].flat();
    return all.length === 0 ? c.signed : attachSignatures(c.signed, all);
  }

  private acceptable(c: Candidate): boolean {
    return this.opts.config.failMode === "open" || this.quorumMet(c);
  }

  /** Publishes the newest written, acceptable checkpoint (with its cosignatures so far). */
  private refresh(): void {
    const best = this.candidates.findLast((c) => c.written && this.acceptable(c));
    if (!best || best.cp.size < this.publishedAt) return;
    const note = this.noteOf(best);
    if (note === this.publishedNote) return;
    if (best.cp.size > this.publishedAt && !this.quorumMet(best))
      this.event("warn", "published a checkpoint short of the witness quorum (failMode open)", {
        size: best.cp.size,
        missing: this.policy.witnesses.filter((w) => !best.cosignatures.has(w.name)).map((w) => w.name),
      });
    this.publishedNote = note;
    this.publishedAt = best.cp.size;
    this.writing = this.writing
      .then(() => (this.publishedNote === note ? writeFileAtomic(this.opts.publishedFile, note) : undefined))
      .catch((err: unknown) =>
        this.event("error", "could not keep the published checkpoint", { err: String(err) }),
      );
  }

  private quorumMet(c: Candidate): boolean {
    const cosignatures = this.policy.witnesses
      .filter((w) => c.cosignatures.has(w.name))
      .map((w) => ({ name: w.name, keyHash: w.keyHash, time: 0 }));
    return checkQuorum({ size: c.cp.size, cosignatures }, this.policy).ok;
  }

  /** Logs a witness's outcome when it differs from its last one (no line per checkpoint). */
  private report(client: CosignerClient, c: Candidate, o: CosignOutcome): void {
    const name = client.endpoint.name;
    const summary = o.kind === "refused" ? `refused ${o.status}` : o.kind;
    const previous = this.lastOutcome.get(name);
    this.lastOutcome.set(name, summary);
    if (o.kind === "superseded" || summary === previous) return;
    const role = this.mirrors.some((m) => m === client) ? "mirror" : "witness";
    const fields = { [role]: name, url: client.endpoint.url, size: c.cp.size };
    if (o.kind === "cosigned") this.event("info", `${role} cosigns`, fields);
    else if (o.kind === "failed") this.event("warn", `${role} unreachable`, { ...fields, reason: o.reason });
    else if (o.kind === "refused")
      this.event("error", `${role} refused the checkpoint`, {
        ...fields,
        status: o.status,
        reason: o.reason,
      });
    else
      this.event(
        "error",
        `${role} holds a larger tree of this log than its checkpoint: another history of the log exists, or it was rolled back`,
        {
          ...fields,
          witnessSize: o.size,
        },
      );
  }

  private event(level: CosignEvent["level"], message: string, fields: Record<string, unknown>): void {
    this.opts.onEvent?.({ level, message, fields });
  }
}
