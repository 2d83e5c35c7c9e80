// A C2SP tlog-witness: add-checkpoint checks a log's new checkpoint against the latest one it
// cosigned for that log — signed by a key configured for the origin, consistent with it by the
// proof given — records it durably, and only then answers with its cosignature/v1.
//
// The answers are the spec's: 404 unknown origin; 403 no valid signature by a configured key
// (or a bad one by such a key); 400 malformed body or old size beyond the checkpoint; 409 with
// the size it holds (text/x.tlog.size) when the old size is not that; 422 a size-0 checkpoint
// without the empty root, a proof where none belongs, a proof that does not verify, or a
// different tree of the size it holds. A checkpoint that fails a consistency check while
// validly signed is evidence of a fork: it is kept (DATA/evidence/) and reported.
//
// It never cosigns two different checkpoints of one size: a request for the size it holds
// must carry the same checkpoint text (extension lines included), which is stricter than the
// spec's "same root".
import { createHash } from "node:crypto";
import {
  type CosignatureSigner,
  type NoteSignature,
  emptyTreeHash,
  formatCosignatureResponse,
  formatSizeBody,
  hashesEqual,
  openCheckpointAsync,
  parseAddCheckpointRequest,
  SIZE_CONTENT_TYPE,
  signNoteWith,
  type Signer,
  splitNote,
  type SplitNote,
  TlogError,
  verifyConsistency,
  type OpenedCheckpoint,
} from "../tlog/index.js";
import type { CheckpointStore, StoredCheckpoint } from "./checkpoint-store.js";
import { crashPoint } from "./crash-points.js";
import type { LogConfig } from "./logs-config.js";

export interface WitnessReply {
  status: number;
  contentType: string;
  body: string;
}

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
  /**
   * The witness's key. Without one (a mirror's pending checkpoints, C2SP tlog-mirror) the
   * checkpoint is recorded with the log's signatures only and the answer is empty.
   */
  signer?: CosignatureSigner;
  /** Told about every contradicting checkpoint; it keeps and reports the evidence. */
  onFork?: (evidence: ForkEvidence) => void;
  /** Told about every checkpoint recorded (after it is durable). */
  onRecorded?: (origin: string, record: StoredCheckpoint) => void;
}

const TEXT = "text/plain; charset=utf-8";
const reply = (status: number, body: string, contentType = TEXT): WitnessReply => ({
  status,
  contentType,
  body: body === "" || body.endsWith("\n") ? body : `${body}\n`,
});

/** The lowercase hex SHA-256 of an origin: its directory under a witness's or mirror's monitoring prefix. */
export function originHash(origin: string): string {
  return createHash("sha256").update(origin, "utf8").digest("hex");
}

export class Witness {
  /** The witness's key, signing on the thread pool. */
  private readonly signer: Signer | undefined;

  constructor(private readonly opts: WitnessOptions) {
    this.signer = opts.signer?.offThread();
  }

  /** Handles one add-checkpoint request body; never throws for bad input (only for a failing disk). */
  async addCheckpoint(body: string): Promise<WitnessReply> {
    crashPoint("request-read");
    let request;
    try {
      request = parseAddCheckpointRequest(body);
    } catch (err) {
      return reply(400, (err as Error).message);
    }
    let split: SplitNote;
    try {
      split = splitNote(request.checkpoint);
    } catch (err) {
      return reply(400, (err as Error).message);
    }
    const origin = split.text.slice(0, split.text.indexOf("\n"));
    const log = this.opts.logs().get(origin);
    if (!log) return reply(404, `unknown log origin ${JSON.stringify(origin.slice(0, 200))}`);
    let cp: OpenedCheckpoint;
    try {
      // Checked before taking the log's turn, on the thread pool: requests of other logs, and
      // the event loop's network work, go on meanwhile.
      cp = await openCheckpointAsync(split, log.verifiers);
    } catch (err) {
      const code = err instanceof TlogError ? err.code : "";
      if (code === "malformed-note" || code === "malformed-checkpoint")
        return reply(400, (err as Error).message);
      return reply(403, `checkpoint is not validly signed by a key of ${origin}: ${(err as Error).message}`);
    }
    crashPoint("signature-verified");
    if (request.oldSize > cp.size)
      return reply(400, `old size ${request.oldSize} is larger than the checkpoint's size ${cp.size}`);
    const logSignatures: NoteSignature[] = cp.signatures.map(({ name, keyHash, base64 }) => ({
      name,
      keyHash,
      base64,
    }));

    const result = await this.opts.store.update(origin, async (held) => {
      const heldSize = held?.size ?? 0;
      if (request.oldSize !== heldSize) {
        return { result: reply(409, formatSizeBody(heldSize), SIZE_CONTENT_TYPE) };
      }
      const refuse = (why: string): { result: WitnessReply } => {
        if (held) this.opts.onFork?.({ origin, held: held.note, shown: request.checkpoint, reason: why });
        return { result: reply(422, why) };
      };
      if (cp.size === 0 && !hashesEqual(cp.rootHash, emptyTreeHash()))
        return { result: reply(422, "a checkpoint of size 0 must have the root of the empty tree") };
      if (request.oldSize === 0 && request.proof.length > 0)
        return { result: reply(422, "a consistency proof from size 0 must be empty") };
      if (held && request.oldSize === cp.size) {
        if (!hashesEqual(held.rootHash, cp.rootHash))
          return refuse(`a different tree of size ${cp.size} than the one this witness cosigned`);
        if (splitNote(held.note).text !== cp.text)
          return refuse(
            `a different checkpoint of size ${cp.size} (extension lines differ) than the one cosigned`,
          );
      } else if (held && !verifyConsistency(held.size, cp.size, request.proof, held.rootHash, cp.rootHash)) {
        return refuse(`the consistency proof from size ${held.size} to ${cp.size} does not verify`);
      }
      const signer = this.signer;
      const { note, added } = await signNoteWith(cp.text, signer ? [signer] : [], logSignatures);
      crashPoint("cosignature-signed");
      return {
        record: { size: cp.size, rootHash: cp.rootHash, note },
        result: reply(200, formatCosignatureResponse(added)),
      };
    });
    if (result.status === 200) this.opts.onRecorded?.(origin, this.opts.store.get(origin)!);
    return result;
  }

  /** The latest cosigned checkpoint of the log whose origin hashes to `hash`, or null. */
  latest(hash: string): string | null {
    for (const origin of this.opts.store.keys()) {
      if (originHash(origin) === hash) return this.opts.store.get(origin)?.note ?? null;
    }
    return null;
  }
}
