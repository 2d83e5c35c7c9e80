// A C2SP tlog-witness: add-checkpoint checks a log's new checkpoint against the latest one it
// cosigned for that log — signed by a key configured for the origin, consistent with it by the
// proof given (check.ts) — records it durably, and only then answers with its cosignature/v1.
// A validly signed checkpoint that contradicts what it holds is evidence of a fork: it is kept
// (DATA/evidence/) and reported.
//
// The checks run before the log's turn, against the record held when the request came, so
// that the event loop never waits for them (they can run on threads of their own,
// check-thread.ts). An outcome decided against that record is kept only if the record is still
// the one held when the log's turn comes; otherwise (two requests of one log at once) the
// request is checked again during its turn, where the record cannot change.
import { createHash } from "node:crypto";
import { addCheckpointOrigin } from "../tlog/index.js";
import type { CheckOutcome, Checker, WitnessReply } from "./check.js";
import type { CheckpointStore, StoredCheckpoint } from "./checkpoint-store.js";
import { crashPoint } from "./crash-points.js";
import type { LogConfig } from "./logs-config.js";

export type { WitnessReply } from "./check.js";

/** A validly signed checkpoint that contradicts what the witness holds: proof of a fork or a rollback. */
export interface ForkEvidence {
  origin: string;
  /** The note the witness holds (log signatures and its cosignature). */
  held: string;
  /** The checkpoint it was shown. */
  shown: string;
  reason: string;
}

export interface WitnessOptions {
  store: CheckpointStore;
  /** The current logs configuration (it may be reloaded between requests). */
  logs: () => ReadonlyMap<string, LogConfig>;
  /** The checks, with the witness's key if it cosigns (check.ts, check-thread.ts). */
  checker: Checker;
  /** Told about every contradicting checkpoint; it keeps and reports the evidence. */
  onFork?: (evidence: ForkEvidence) => void;
  /** Told about every checkpoint recorded (after it is durable). */
  onRecorded?: (origin: string, record: StoredCheckpoint) => void;
}

/** The lowercase hex SHA-256 of an origin: its directory under a witness's or mirror's monitoring prefix. */
export function originHash(origin: string): string {
  return createHash("sha256").update(origin, "utf8").digest("hex");
}

export class Witness {
  constructor(private readonly opts: WitnessOptions) {}

  /** Handles one add-checkpoint request body; never throws for bad input (only for a failing disk). */
  async addCheckpoint(body: string): Promise<WitnessReply> {
    crashPoint("request-read");
    const { store, checker, logs } = this.opts;
    const origin = addCheckpointOrigin(body);
    const held = origin === null ? undefined : store.get(origin);
    const first = await checker.check(body, held, logs());
    crashPoint("signature-verified");
    if (first.kind === "answer" || origin === null) return first.reply;
    const outcome = await store.update<CheckOutcome>(origin, async (current) => {
      const outcome = current === held ? first : await checker.check(body, current, logs());
      // A fork is only ever found against a record held.
      if (outcome.kind === "held" && outcome.fork && current)
        this.opts.onFork?.({ origin, held: current.note, ...outcome.fork });
      if (outcome.kind !== "cosign") return { result: outcome };
      crashPoint("cosignature-signed");
      return { record: outcome.record, result: outcome };
    });
    if (outcome.kind === "cosign") this.opts.onRecorded?.(origin, outcome.record);
    return outcome.reply;
  }

  /** The latest cosigned checkpoint of the log whose origin hashes to `hash`, or null. */
  latest(hash: string): string | null {
    for (const origin of this.opts.store.keys()) {
      if (originHash(origin) === hash) return this.opts.store.get(origin)?.note ?? null;
    }
    return null;
  }
}
