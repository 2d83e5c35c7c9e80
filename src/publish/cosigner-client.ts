// What the log's clients of witnesses and mirrors share: one exchange at a time per cosigner
// (each builds on what the last one left), the newest checkpoint replacing one still waiting
// (the older is answered "superseded": the newer covers it), a back-off that skips a failing
// cosigner for a doubling time so a dead one does not delay every checkpoint, and the check
// that an answer carries the cosigner's valid cosignature.
import {
  type Checkpoint,
  type CosignatureVerifier,
  type Hash,
  type NoteSignature,
  formatAddCheckpointRequest,
  parseCosignatureResponse,
  parseSizeBody,
  signatureBytes,
  splitNote,
} from "../tlog/index.js";
import { type HttpAnswer, type HttpClient, joinUrl } from "./http-client.js";

/** Proves the tree of `from` leaves is a prefix of the tree of `to` (the log's own tiles). */
export type ProveConsistency = (from: number, to: number) => Promise<Hash[]>;

export interface RequestTiming {
  /** Deadline of one request. */
  timeoutMs: number;
  /** Further tries after a network failure, timeout or 5xx. */
  retries: number;
  /** Delay before the first retry; doubled for each next one. */
  retryDelayMs: number;
  /** Longest time a failing cosigner is skipped before it is tried again. */
  maxBackoffMs: number;
}

export interface CosignerEndpoint {
  /** The cosigner's key name (from its verifier key). */
  name: string;
  /** Its submission prefix. */
  url: string;
  verifier: CosignatureVerifier;
}

export type CosignOutcome =
  | { kind: "cosigned"; signatures: NoteSignature[] }
  | { kind: "superseded" }
  | { kind: "failed"; reason: string }
  | { kind: "refused"; status: number; reason: string }
  | { kind: "ahead"; size: number };

export interface CosignJob {
  note: string;
  cp: Checkpoint;
  /** The note's text as bytes: what a cosignature signs. */
  text: Uint8Array;
}

export abstract class CosignerClient {
  private running = false;
  /** A checkpoint stopped waiting for the exchange under way (see giveUp). */
  private givenUp = false;
  private waiting: { job: CosignJob; resolve: (o: CosignOutcome) => void } | null = null;
  private skipUntil = 0;
  private backoffMs = 0;

  /** The size of the checkpoint the cosigner holds for this log, as last learned; null until learned. */
  protected held: number | null = null;

  constructor(
    readonly endpoint: CosignerEndpoint,
    protected readonly http: HttpClient,
    protected readonly timing: RequestTiming,
    protected readonly prove: ProveConsistency,
  ) {}

  /**
   * A checkpoint waited for this cosigner until its deadline: if an exchange is still under way,
   * later checkpoints need not wait for it either, since nothing new is answered before it ends.
   */
  giveUp(): void {
    if (this.running) this.givenUp = true;
  }

  /** Whether the exchange under way is one a checkpoint gave up on. */
  get givenUpOn(): boolean {
    return this.running && this.givenUp;
  }

  /** The size this cosigner is known to hold, or null. */
  get heldSize(): number | null {
    return this.held;
  }

  /** Asks the cosigner about `note` (the log's checkpoint `cp`); never rejects. */
  cosign(note: string, cp: Checkpoint): Promise<CosignOutcome> {
    const text = new TextEncoder().encode(splitNote(note).text);
    return new Promise<CosignOutcome>((resolve) => {
      const job = { note, cp, text };
      if (!this.running) {
        void this.run(job, resolve);
        return;
      }
      this.waiting?.resolve({ kind: "superseded" });
      this.waiting = { job, resolve };
    });
  }

  /** One exchange about `job`, after which the next waiting job runs. */
  protected abstract exchange(job: CosignJob): Promise<CosignOutcome>;

  /** Told about each outcome before it is handed back. */
  protected settled(_job: CosignJob, _outcome: CosignOutcome): void {}

  private async run(first: CosignJob, resolve: (o: CosignOutcome) => void): Promise<void> {
    this.running = true;
    let next: { job: CosignJob; resolve: (o: CosignOutcome) => void } | null = { job: first, resolve };
    while (next) {
      const { job } = next;
      this.givenUp = false;
      const outcome = await this.guarded(job);
      this.settled(job, outcome);
      next.resolve(outcome);
      next = this.waiting;
      this.waiting = null;
    }
    this.running = false;
  }

  private async guarded(job: CosignJob): Promise<CosignOutcome> {
    const now = Date.now();
    if (now < this.skipUntil)
      return {
        kind: "failed",
        reason: `skipped for ${Math.ceil((this.skipUntil - now) / 1000)} s more after failing`,
      };
    const outcome = await this.exchange(job).catch((err: unknown): CosignOutcome => ({
      kind: "failed",
      reason: err instanceof Error ? err.message : String(err),
    }));
    if (outcome.kind === "failed") {
      this.backoffMs = Math.min(this.timing.maxBackoffMs, Math.max(1000, this.backoffMs * 2));
      this.skipUntil = Date.now() + this.backoffMs;
    } else {
      this.backoffMs = 0;
    }
    return outcome;
  }

  /** The answer's signature lines that are this cosigner's valid cosignatures of the job's text. */
  protected checked(body: string, job: CosignJob): CosignOutcome {
    let lines: NoteSignature[];
    try {
      lines = parseCosignatureResponse(body);
    } catch (err) {
      return { kind: "refused", status: 200, reason: `malformed answer: ${(err as Error).message}` };
    }
    const v = this.endpoint.verifier;
    const valid = lines.filter(
      (s) => s.name === v.name && s.keyHash === v.keyHash && v.verify(job.text, signatureBytes(s)),
    );
    if (valid.length === 0)
      return {
        kind: "refused",
        status: 200,
        reason: "the answer carries no valid cosignature by the configured key",
      };
    return { kind: "cosigned", signatures: valid };
  }

  /**
   * POSTs to <url>/<path>; a network failure, timeout or 5xx is tried again (a string body up
   * to `retries` times, a stream body, which cannot be sent twice, not at all). Status 0 is a
   * network failure, its message the body.
   */
  protected async post(
    path: string,
    body: string | NodeJS.ReadableStream,
    headers: Record<string, string>,
  ): Promise<HttpAnswer> {
    for (let failures = 0; ;) {
      let answer: HttpAnswer;
      try {
        answer = await this.http.request("POST", joinUrl(this.endpoint.url, path), {
          body: body as string,
          headers,
          timeoutMs: this.timing.timeoutMs,
        });
      } catch (err) {
        answer = { status: 0, headers: {}, body: Buffer.from((err as Error).message) };
      }
      if (
        (answer.status !== 0 && answer.status < 500) ||
        typeof body !== "string" ||
        failures++ >= this.timing.retries
      )
        return answer;
      await new Promise((r) => setTimeout(r, this.timing.retryDelayMs * 2 ** (failures - 1)));
    }
  }

  /**
   * add-checkpoint (C2SP tlog-witness) with the proof from the size the cosigner holds, learning
   * that size from its 409 answers: the 200 answer, or the outcome when it did not come.
   */
  protected async addCheckpoint(
    job: CosignJob,
  ): Promise<{ answer: HttpAnswer } | { outcome: CosignOutcome }> {
    for (let conflicts = 0; conflicts <= MAX_CONFLICTS; conflicts++) {
      const old = this.held ?? 0;
      if (old > job.cp.size) return { outcome: { kind: "ahead", size: old } };
      const body = formatAddCheckpointRequest({
        oldSize: old,
        proof: old === 0 ? [] : await this.prove(old, job.cp.size),
        checkpoint: job.note,
      });
      const answer = await this.post("add-checkpoint", body, { "Content-Type": "text/plain; charset=utf-8" });
      if (answer.status === 200) {
        this.held = job.cp.size;
        return { answer };
      }
      if (answer.status !== 409) return { outcome: failure("add-checkpoint", answer) };
      try {
        this.held = parseSizeBody(answer.body.toString("utf8"));
      } catch {
        return { outcome: { kind: "refused", status: 409, reason: `add-checkpoint: 409 without a size` } };
      }
    }
    return {
      outcome: {
        kind: "refused",
        status: 409,
        reason: `add-checkpoint: still 409 after ${MAX_CONFLICTS} tries`,
      },
    };
  }
}

const MAX_CONFLICTS = 3;

/** The outcome of an answer that is neither a success nor a 409: failed (network, 5xx) or refused. */
export function failure(what: string, answer: HttpAnswer): CosignOutcome {
  const reason = `${what}: ${answer.body.toString("utf8").trim().slice(0, 300)}`;
  if (answer.status === 0) return { kind: "failed", reason };
  if (answer.status >= 500) return { kind: "failed", reason: `HTTP ${answer.status}: ${reason}` };
  // 400, 403, 404, 422: the cosigner does not know this log, or refuses what it was shown.
  return { kind: "refused", status: answer.status, reason };
}
