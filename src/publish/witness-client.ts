// The log's side of C2SP tlog-witness for one witness: sends a new checkpoint with the
// consistency proof from the size the witness last cosigned, and returns its checked
// cosignatures.
//
// - One request at a time per witness, as the protocol needs (each builds on the last). A
//   checkpoint that arrives while one is in flight waits; a newer one replaces it (the older is
//   answered "superseded": the witness will cosign the newer one, which covers it).
// - The witness's size is learned from its 409 answers (the first request after a start says
//   "old 0", as the spec allows); a witness that holds a larger tree than the log's checkpoint
//   has seen another history of this log, and is reported as such.
// - Network failures, timeouts and 5xx are retried with a growing delay; after that the witness
//   is skipped (answered "failed" at once) for a back-off period that doubles up to a limit, so
//   a dead witness does not delay every checkpoint.
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
import { HttpClient, joinUrl } from "./http-client.js";

export interface WitnessEndpoint {
  /** The witness's key name (from its verifier key). */
  name: string;
  /** Its submission prefix: add-checkpoint is posted to <url>/add-checkpoint. */
  url: string;
  verifier: CosignatureVerifier;
  /** Asked, and its cosignature attached, but never counted toward the quorum. */
  optional: boolean;
}

export interface RequestTiming {
  /** Deadline of one request. */
  timeoutMs: number;
  /** Further tries after a network failure, timeout or 5xx. */
  retries: number;
  /** Delay before the first retry; doubled for each next one. */
  retryDelayMs: number;
  /** Longest time a failing witness is skipped before it is tried again. */
  maxBackoffMs: number;
}

/** Proves the tree of `from` leaves is a prefix of the tree of `to` (the log's own tiles). */
export type ProveConsistency = (from: number, to: number) => Promise<Hash[]>;

export type WitnessOutcome =
  | { kind: "cosigned"; signatures: NoteSignature[] }
  | { kind: "superseded" }
  | { kind: "failed"; reason: string }
  | { kind: "refused"; status: number; reason: string }
  | { kind: "ahead"; size: number };

interface Job {
  note: string;
  cp: Checkpoint;
  resolve: (o: WitnessOutcome) => void;
}

const MAX_CONFLICTS = 3;

export class WitnessClient {
  /** The size the witness holds for this log, as last learned; null until learned. */
  private held: number | null = null;
  private running = false;
  private next: Job | null = null;
  private skipUntil = 0;
  private backoffMs = 0;

  constructor(
    readonly endpoint: WitnessEndpoint,
    private readonly http: HttpClient,
    private readonly timing: RequestTiming,
    private readonly prove: ProveConsistency,
  ) {}

  /** The size this witness is known to hold, or null. */
  get heldSize(): number | null {
    return this.held;
  }

  /** Asks the witness to cosign `note` (the log's checkpoint `cp`); never rejects. */
  cosign(note: string, cp: Checkpoint): Promise<WitnessOutcome> {
    return new Promise<WitnessOutcome>((resolve) => {
      const job: Job = { note, cp, resolve };
      if (!this.running) {
        void this.run(job);
        return;
      }
      this.next?.resolve({ kind: "superseded" });
      this.next = job;
    });
  }

  private async run(first: Job): Promise<void> {
    this.running = true;
    let job: Job | null = first;
    while (job) {
      job.resolve(
        await this.exchange(job).catch((err: unknown) => ({ kind: "failed" as const, reason: String(err) })),
      );
      job = this.next;
      this.next = null;
    }
    this.running = false;
  }

  private async exchange(job: Job): Promise<WitnessOutcome> {
    const now = Date.now();
    if (now < this.skipUntil)
      return {
        kind: "failed",
        reason: `skipped for ${Math.ceil((this.skipUntil - now) / 1000)} s more after failing`,
      };
    const text = new TextEncoder().encode(splitNote(job.note).text);
    let conflicts = 0;
    let failures = 0;
    for (;;) {
      const old = this.held ?? 0;
      if (old > job.cp.size) return { kind: "ahead", size: old };
      const body = formatAddCheckpointRequest({
        oldSize: old,
        proof: old === 0 ? [] : await this.prove(old, job.cp.size),
        checkpoint: job.note,
      });
      let answer;
      try {
        answer = await this.http.request("POST", joinUrl(this.endpoint.url, "add-checkpoint"), {
          body,
          headers: { "Content-Type": "text/plain; charset=utf-8" },
          timeoutMs: this.timing.timeoutMs,
        });
      } catch (err) {
        answer = { status: 0, body: Buffer.from((err as Error).message) };
      }
      const reason = answer.body.toString("utf8").trim().slice(0, 300);
      if (answer.status === 200) {
        this.backoffMs = 0;
        this.held = job.cp.size;
        return this.checked(answer.body.toString("utf8"), text);
      }
      if (answer.status === 409) {
        let size: number;
        try {
          size = parseSizeBody(answer.body.toString("utf8"));
        } catch {
          return { kind: "refused", status: 409, reason: `409 without a size: ${reason}` };
        }
        this.held = size;
        if (++conflicts > MAX_CONFLICTS)
          return { kind: "refused", status: 409, reason: `still 409 (${size}) after ${MAX_CONFLICTS} tries` };
        continue;
      }
      if (answer.status === 0 || answer.status >= 500) {
        if (failures++ < this.timing.retries) {
          await new Promise((r) => setTimeout(r, this.timing.retryDelayMs * 2 ** (failures - 1)));
          continue;
        }
        this.backoffMs = Math.min(this.timing.maxBackoffMs, Math.max(1000, this.backoffMs * 2));
        this.skipUntil = Date.now() + this.backoffMs;
        return { kind: "failed", reason: answer.status === 0 ? reason : `HTTP ${answer.status}: ${reason}` };
      }
      // 400, 403, 404, 422: the witness does not know this log, or refuses what it was shown.
      return { kind: "refused", status: answer.status, reason };
    }
  }

  /** The answer's signature lines that are this witness's valid cosignatures of the text. */
  private checked(body: string, text: Uint8Array): WitnessOutcome {
    let lines: NoteSignature[];
    try {
      lines = parseCosignatureResponse(body);
    } catch (err) {
      return { kind: "refused", status: 200, reason: `malformed answer: ${(err as Error).message}` };
    }
    const v = this.endpoint.verifier;
    const mine = lines.filter((s) => s.name === v.name && s.keyHash === v.keyHash);
    const valid = mine.filter((s) => v.verify(text, signatureBytes(s)));
    if (valid.length === 0)
      return {
        kind: "refused",
        status: 200,
        reason: "the answer carries no valid cosignature by the configured key",
      };
    return { kind: "cosigned", signatures: valid };
  }
}
